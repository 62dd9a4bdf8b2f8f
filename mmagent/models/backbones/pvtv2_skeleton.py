"""The PVTv2 skeleton (FLatten-PVTv2): the PVT skeleton with overlapping patch embeddings (7×7/4 pad 3, then
3×3/2 pad 1), no stage position embeddings, PVTv2's convolutional MLP and a LayerNorm ``norm{m}`` after every
stage, whose output is both the stage's map and the next stage's input (docs/design/skeletons.md).

Module names follow the official checkpoints: ``patch_embed{m}.{proj,norm}``, ``block{m}.{j}.{norm1,attn,norm2,
mlp.{fc1,dwconv.dwconv,fc2}}``, ``norm{m}``.
"""
from typing import List, Tuple

from .pvt_skeleton import PVTSkeleton

__all__ = ['PVTv2Skeleton', 'PVTV2_SIZES']

# PVTv2-B0..B4 (B1-B4 share the widths and differ in depth).
_PVTV2_WIDTHS = dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4))
PVTV2_SIZES = {
    'b0': dict(_PVTV2_WIDTHS, embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2)),
    'b1': dict(_PVTV2_WIDTHS, depths=(2, 2, 2, 2)),
    'b2': dict(_PVTV2_WIDTHS, depths=(3, 4, 6, 3)),
    'b3': dict(_PVTV2_WIDTHS, depths=(3, 4, 18, 3)),
    'b4': dict(_PVTV2_WIDTHS, depths=(3, 8, 27, 3)),
}


class PVTv2Skeleton(PVTSkeleton):
    """Four-stage PVTv2 pyramid: arguments as :class:`PVTSkeleton` (``patch_size`` must stay 4: the stem is
    the fixed 7×7/4 overlapping convolution).

    Shapes: (B, 3, H, W), any H, W -> tuple of ``norm{i}``-normalised maps (B, C_i, H_i, W_i) with H_1 = ⌈H/4⌉
    and H_i = ⌈H_{i−1}/2⌉.
    """

    default_arch = 'b1'
    checkpoint_layout = 'pvtv2'
    benchmark_baseline = 'pvtv2'
    with_pos_embed = False
    conv_mlp = True
    stage_norms = True

    def __init__(self, arch=None, **kwargs) -> None:
        super().__init__(arch, **kwargs)
        if tuple(self.depths) == tuple(PVTV2_SIZES['b2']['depths']):  # B2-deep: compare with mmdet's PVTv2-B2
            self.benchmark_baseline = 'pvtv2_b2'

    def patch_geometries(self, patch_size: int, num_stages: int) -> List[Tuple[int, int, int]]:
        if patch_size != 4:
            raise ValueError(f'PVTv2 embeds patches with a 7x7 stride-4 convolution; patch_size must be 4, '
                             f'got {patch_size}')
        return [(7, 4, 3)] + [(3, 2, 1)] * (num_stages - 1)
