"""FLatten-PVT-T/S/M/L (spec: flatten_attention.md §4.1): PVT v1 with focused linear attention in every
stage (official layout ``LLLL``, no spatial reduction in the linear stages)."""
from typing import Optional, Sequence, Union

from ...registry import register_model
from ..layers.focused_linear_attention import FocusedLinearAttention
from ..layers.common import per_stage
from ..layers.window_attention import SpatialReductionAttention
from .agent_pvt import _PVT_WIDTHS
from .base import BlockSpec
from .pvt_skeleton import PVTSkeleton

__all__ = ['FLattenPVT']


@register_model
class FLattenPVT(PVTSkeleton):
    """FLatten-PVT backbone, usable at any resolution (>= 32 px).

    ``L`` stages attend globally over the stage map with the 224-grid ``positional_encoding`` resized to
    the actual grid; the stage ``pos_embed`` is resized bilinearly as in the official code. Only the
    released ``la_sr_ratios='1111'`` (no spatial reduction in ``L`` stages) is supported.

    Args:
        arch: ``'t'``, ``'s'``, ``'m'``, ``'l'`` or a dict (``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratios``, ``attn_type``).
        attn_type: ``L`` focused linear attention, ``S`` PVT spatial-reduction attention, ``M`` + digits.
        sr_ratios: spatial-reduction ratios of the ``S`` stages.
        focusing_factor, kernel_size, pe_interp, fp32_attention, attn_mode: see
            :class:`FocusedLinearAttention`.
        Others: as in :class:`AgentPVT`.

    Shapes: (B, 3, H, W), H, W >= 32 -> tuple of (B, C_i, ⌊H/2^(i+2)⌋, ⌊W/2^(i+2)⌋) for i in out_indices.
    """

    arch_zoo = {
        't': dict(_PVT_WIDTHS, depths=(2, 2, 2, 2), attn_type='LLLL'),
        's': dict(_PVT_WIDTHS, depths=(3, 4, 6, 3), attn_type='LLLL'),
        'm': dict(_PVT_WIDTHS, depths=(3, 4, 18, 3), attn_type='LLLL'),
        'l': dict(_PVT_WIDTHS, depths=(3, 8, 27, 3), attn_type='LLLL'),
    }

    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 attn_type: Optional[str] = None,
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 pe_interp: str = 'bicubic',
                 fp32_attention: bool = True,
                 attn_mode: str = 'fast',
                 patch_size: int = 4,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 pos_embed_interp: str = 'bilinear',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        arch = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                                 mlp_ratios=mlp_ratios, attn_type=attn_type)
        sr_ratios = per_stage('sr_ratios', sr_ratios, len(arch['depths']))

        def build_attention(spec: BlockSpec):
            if spec.letter == 'L':
                return FocusedLinearAttention(
                    spec.embed_dims, spec.num_heads, pretrain_hw=spec.pretrain_hw, qkv_bias=spec.qkv_bias,
                    qkv_layout='q_kv', focusing_factor=focusing_factor, kernel_size=kernel_size,
                    pe_interp=pe_interp, fp32_attention=fp32_attention, proj_drop=spec.proj_drop, mode=attn_mode)
            return SpatialReductionAttention(spec.embed_dims, spec.num_heads, sr_ratio=sr_ratios[spec.stage],
                                             qkv_bias=spec.qkv_bias, attn_drop=spec.attn_drop,
                                             proj_drop=spec.proj_drop)

        super().__init__(
            arch['embed_dims'], arch['depths'], arch['num_heads'], arch['mlp_ratios'], arch['attn_type'],
            ('L', 'S'), build_attention, patch_size=patch_size, in_channels=in_channels, qkv_bias=qkv_bias,
            pretrain_img_size=pretrain_img_size, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, pos_embed_interp=pos_embed_interp, out_indices=out_indices,
            frozen_stages=frozen_stages, norm_eval=norm_eval, with_cp=with_cp, init_cfg=init_cfg)
