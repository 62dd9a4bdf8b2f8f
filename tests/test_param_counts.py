"""Backbone-only parameter counts of the downstream modules (the official modules' counts), within 0.01 M."""
import pytest

from mmagent.models import (AgentCSwinTransformer, AgentPVT, AgentSwinTransformer, FLattenCSwinTransformer, FLattenPVT,
                            FLattenPVTv2, FLattenSwinTransformer)

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


# The official classification models' backbone counts (tests/data/reference/README.md: total minus head minus
# the final norm norm4) plus norm4, which mmagent keeps as the stage-4 output norm.
@pytest.mark.parametrize('arch, official_backbone, norm4', [
    ('b0', 3_337_312, 512),
    ('b1', 12_417_216, 1_024),
    ('b2', 22_034_240, 1_024),
    ('b3', 37_759_808, 1_024),
    ('b4', 51_322_944, 1_024),
])
def test_flatten_pvt_v2_counts_exact(arch, official_backbone, norm4):
    assert _count(FLattenPVTv2(arch=arch)) == official_backbone + norm4


# CSwin: the official classification models' backbone counts (tests/data/reference/README.md: total minus head
# minus the final norm) plus the four output norms norm0..3 that mmagent adds (2 x (C + 2C + 4C + 8C)).
@pytest.mark.parametrize('cls, arch, official_backbone', [
    (AgentCSwinTransformer, 't', 19_944_648),
    (AgentCSwinTransformer, 's', 32_300_076),
    (AgentCSwinTransformer, 'b', 72_479_160),
    (FLattenCSwinTransformer, 't', 20_687_744),
    (FLattenCSwinTransformer, 's', 34_937_728),
    (FLattenCSwinTransformer, 'b', 74_096_496),
])
def test_cswin_counts_exact(cls, arch, official_backbone):
    model = cls(arch=arch)
    output_norms = 2 * 15 * model.embed_dims
    assert _count(model) == official_backbone + output_norms


# The B-384 models: the same backbone with 384-sized position parameters and stripes 1-2-12-12.
@pytest.mark.parametrize('cls, official_backbone', [
    (AgentCSwinTransformer, 72_557_880),
    (FLattenCSwinTransformer, 77_598_576),
])
def test_cswin_b384_counts_exact(cls, official_backbone):
    model = cls(arch='b', pretrain_img_size=384, split_sizes=(1, 2, 12, 12))
    output_norms = 2 * 15 * model.embed_dims
    assert _count(model) == official_backbone + output_norms
