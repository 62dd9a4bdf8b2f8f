import pytest

from mmagent.models.layers.layout import parse_layout


def test_expands_mixed_stage():
    blocks = parse_layout('AAMB2', (2, 2, 18, 2), 'A', 'B')
    assert blocks[0] == ['A', 'A'] and blocks[1] == ['A', 'A']
    assert blocks[2] == ['A', 'A'] + ['B'] * 16
    assert blocks[3] == ['B', 'B']
    assert parse_layout('LLSS', (2, 2, 6, 2), 'L', 'S')[2] == ['S'] * 6


@pytest.mark.parametrize('layout, message', [
    ('AAXB', 'unknown stage letter'),
    ('AAMB', 'no digits'),
    ('AAAB2', 'no M stage'),
    ('AAMB7', 'only 6 blocks'),
    ('AAB', 'stage letters'),
    ('LLSS', 'unknown stage letter'),
])
def test_rejects_bad_layouts(layout, message):
    with pytest.raises(ValueError, match=message):
        parse_layout(layout, (2, 2, 6, 2), 'A', 'B')
