"""Backbone-only parameter counts of the downstream modules (the official modules' counts), within 0.01 M."""
import pytest

from mmagent.models import AgentPVT, AgentSwinTransformer, FLattenPVT, FLattenSwinTransformer

pytestmark = pytest.mark.slow


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('cls, arch, expected', [
    (AgentSwinTransformer, 't', 28_135_308),
    (AgentSwinTransformer, 's', 48_899_028),
    (AgentSwinTransformer, 'b', 87_071_888),
    (AgentPVT, 't', 11_057_352),
    (AgentPVT, 's', 20_122_066),
    (AgentPVT, 'm', 35_408_746),
    (AgentPVT, 'l', 48_225_180),
])
def test_agent_backbone_counts_exact(cls, arch, expected):
    assert _count(cls(arch=arch)) == expected


@pytest.mark.parametrize('cls, arch, expected_m', [
    (FLattenSwinTransformer, 't', 28.42),
    (FLattenSwinTransformer, 's', 49.74),
    (FLattenSwinTransformer, 'b', 87.95),
    (FLattenPVT, 't', 11.64),
    (FLattenPVT, 's', 21.16),
    (FLattenPVT, 'm', 36.73),
    (FLattenPVT, 'l', 50.14),
])
def test_flatten_backbone_counts(cls, arch, expected_m):
    assert abs(_count(cls(arch=arch)) / 1e6 - expected_m) <= 0.01
