"""The PVT (v1) skeleton shared by Agent-PVT and FLatten-PVT: the pyramid skeleton with non-overlapping patch
embeddings (stride 4, then 2) and transformer blocks whose attention the layout string chooses: the family's
efficient attention, or PVT's spatial-reduction attention (docs/design/skeletons.md)."""
from typing import ClassVar, List, Sequence, Tuple, Union

import torch
import torch.nn as nn

from ..layers.common import per_stage
from ..layers.layout import parse_layout
from ..layers.spatial_reduction_attention import SpatialReductionAttention
from .base import BlockSpec, TransformerBlock
from .pyramid_skeleton import PyramidSkeleton

__all__ = ['PVTSkeleton', 'PVT_SIZES']

# PVT-T/S/M/L: the same widths, different depths; a family adds its layout (base.with_layouts).
_PVT_WIDTHS = dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4))
PVT_SIZES = {
    't': dict(_PVT_WIDTHS, depths=(2, 2, 2, 2)),
    's': dict(_PVT_WIDTHS, depths=(3, 4, 6, 3)),
    'm': dict(_PVT_WIDTHS, depths=(3, 4, 18, 3)),
    'l': dict(_PVT_WIDTHS, depths=(3, 8, 27, 3)),
}


class PVTSkeleton(PyramidSkeleton):
    """Four-stage PVT pyramid. A family subclass sets ``layout_letters`` (efficient, host) and
    ``build_efficient_attention``; host blocks are spatial-reduction attention.

    Args:
        arch: a name of the family's ``arch_zoo`` or a dict with ``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratios`` (per stage) and ``attn_type`` (the layout string: efficient letter, host letter,
            ``M`` + digits for mixed stages). Each of these keys may also be passed as an argument, overriding
            the named arch.
        sr_ratios: spatial-reduction ratio of the host stages (8, 4, 2, 1).
        patch_size: stride of the stem (4; later stages embed with stride 2).
        qkv_bias: biases of the Q/K/V projections.
        **kwargs: ``pos_embed_interp`` (:class:`PyramidSkeleton`) and the arguments shared by every backbone
            (:class:`BackboneBase`).

    Shapes: (B, 3, H, W), H, W >= 32 -> tuple of (B, C_i, ⌊H/2^(i+2)⌋, ⌊W/2^(i+2)⌋) (floor at each stage), no
    output norms, as in the official model.
    """

    checkpoint_layout = 'pvt'
    benchmark_baseline = 'pvt'
    qkv_layout: ClassVar[str] = 'q_kv'
    layout_letters: ClassVar[Tuple[str, str]] = ('', '')
    # What PVTv2 changes (pvtv2_skeleton.py): its MLP and a LayerNorm after every stage.
    conv_mlp: ClassVar[bool] = False
    stage_norms: ClassVar[bool] = False

    def __init__(self,
                 arch: Union[str, dict, None] = None,
                 *,
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 patch_size: int = 4,
                 qkv_bias: bool = True,
                 **kwargs) -> None:
        arch = self.resolve_arch_from(arch, kwargs)
        depths = tuple(arch['depths'])
        num_stages = len(depths)
        for name in ('embed_dims', 'num_heads', 'mlp_ratios'):
            if len(arch[name]) != num_stages:
                raise ValueError(f'{name} {list(arch[name])} must have one entry per stage ({num_stages})')
        # Read by build_stage, which the pyramid skeleton calls while it builds.
        self.depths = depths
        self.num_heads = tuple(arch['num_heads'])
        self.mlp_ratios = tuple(arch['mlp_ratios'])
        self.attn_type = arch['attn_type']
        self.block_letters = parse_layout(self.attn_type, depths, *self.layout_letters)
        self.sr_ratios = per_stage('sr_ratios', sr_ratios, num_stages)
        self.qkv_bias = qkv_bias
        super().__init__(arch['embed_dims'], self.patch_geometries(patch_size, num_stages), **kwargs)

    def patch_geometries(self, patch_size: int, num_stages: int) -> List[Tuple[int, int, int]]:
        """(kernel, stride, padding) of every stage's patch embedding: non-overlapping, stride 4 then 2."""
        return [(patch_size, patch_size, 0)] + [(2, 2, 0)] * (num_stages - 1)

    def build_stage(self, stage: int, pretrain_hw: Tuple[int, int]) -> None:
        dims = self.embed_dims[stage]
        blocks = []
        for index, drop_path in enumerate(self.drop_path_rates(self.depths)[stage]):
            spec = BlockSpec(letter=self.block_letters[stage][index], stage=stage, index=index,
                             num_stages=self.num_stages, embed_dims=dims, num_heads=self.num_heads[stage],
                             pretrain_hw=pretrain_hw, attn_drop=self.attn_drop_rate, proj_drop=self.drop_rate,
                             qkv_bias=self.qkv_bias)
            blocks.append(TransformerBlock(dims, self.build_attention(spec), self.mlp_ratios[stage], self.drop_rate,
                                           drop_path, norm_eps=1e-6, conv_mlp=self.conv_mlp))
        setattr(self, f'block{stage + 1}', nn.ModuleList(blocks))
        if self.stage_norms:
            setattr(self, f'norm{stage + 1}', nn.LayerNorm(dims, eps=1e-6))

    def stage_parts(self, stage: int) -> List[nn.Module]:
        parts = [getattr(self, f'block{stage + 1}')]
        return parts + [getattr(self, f'norm{stage + 1}')] if self.stage_norms else parts

    def build_attention(self, spec: BlockSpec) -> nn.Module:
        if spec.letter == self.layout_letters[0]:
            return self.build_efficient_attention(spec)
        return SpatialReductionAttention(spec.embed_dims, spec.num_heads, sr_ratio=self.sr_ratios[spec.stage],
                                         qkv_bias=spec.qkv_bias, attn_drop=spec.attn_drop, proj_drop=spec.proj_drop)

    def build_efficient_attention(self, spec: BlockSpec) -> nn.Module:
        """The family's attention (layout letter ``layout_letters[0]``); defined by the family mixin."""
        raise NotImplementedError

    def forward_stage(self, stage, tokens, hw_shape, context) -> torch.Tensor:
        for block in getattr(self, f'block{stage + 1}'):
            tokens = self._call_block(block, tokens, hw_shape)
        return getattr(self, f'norm{stage + 1}')(tokens) if self.stage_norms else tokens
