"""FLatten-Swin-T/S/B (spec: flatten_attention.md §4.3): Swin with focused linear attention in the ``L``
stages (official layout ``LLSS``: stages 1-2 linear, 3-4 window attention)."""
from typing import Optional, Sequence, Union

from ...registry import register_model
from ..layers.focused_linear_attention import FocusedLinearAttention
from ..layers.window_attention import ShiftedWindowAttention
from .base import BlockSpec
from .swin_skeleton import SwinSkeleton

__all__ = ['FLattenSwinTransformer']


@register_model
class FLattenSwinTransformer(SwinSkeleton):
    """FLatten-Swin backbone, usable at any resolution.

    ``L`` blocks attend globally over the whole stage map at every input size, with the 224-grid
    ``positional_encoding`` resized to the actual map: this is what the released models do at 224 (their
    56-wide "window" covers the whole stage-1/2 map) and what linear attention makes affordable at
    1280×800. ``S`` blocks are Swin window attention (window 7, shift 3 on odd blocks, no shift when the map
    fits in one window, as in the classification code).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict (``embed_dims``, ``depths``, ``num_heads``, ``attn_type``).
        embed_dims, depths, num_heads, attn_type: overrides; ``attn_type`` letters ``L`` (focused linear),
            ``S`` (window softmax), ``M`` + digits (mixed).
        focusing_factor: p of the focusing function (3).
        kernel_size: DWC kernel (5).
        pe_interp: resize mode of the positional encodings (``'bicubic'`` or ``'bilinear'``).
        fp32_attention: run φ, z and KᵀV in fp32 under autocast (default True).
        attn_mode: ``'fast'`` or ``'naive'``, see :class:`FocusedLinearAttention`.
        Others: as in :class:`AgentSwinTransformer`.

    Shapes: (B, 3, H, W), any H, W -> tuple of (B, C·2^i, ⌈H/2^(i+2)⌉, ⌈W/2^(i+2)⌉) for i in out_indices.
    """

    arch_zoo = {
        't': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), attn_type='LLSS'),
        's': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), attn_type='LLSS'),
        'b': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), attn_type='LLSS'),
    }

    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 attn_type: Optional[str] = None,
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 pe_interp: str = 'bicubic',
                 fp32_attention: bool = True,
                 attn_mode: str = 'fast',
                 window_size: int = 7,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.2,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        arch = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                                 attn_type=attn_type)

        def build_attention(spec: BlockSpec):
            if spec.letter == 'L':
                return FocusedLinearAttention(
                    spec.embed_dims, spec.num_heads, pretrain_hw=spec.pretrain_hw, qkv_bias=spec.qkv_bias,
                    qkv_layout='qkv', focusing_factor=focusing_factor, kernel_size=kernel_size,
                    pe_interp=pe_interp, fp32_attention=fp32_attention, proj_drop=spec.proj_drop, mode=attn_mode)
            return ShiftedWindowAttention(
                spec.embed_dims, spec.num_heads, window_size=window_size,
                shift_size=0 if spec.index % 2 == 0 else window_size // 2, qkv_bias=spec.qkv_bias,
                attn_drop=spec.attn_drop, proj_drop=spec.proj_drop, no_shift_on_small_map=True)

        super().__init__(
            arch['embed_dims'], arch['depths'], arch['num_heads'], arch['attn_type'], ('L', 'S'), build_attention,
            patch_size=patch_size, in_channels=in_channels, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
            pretrain_img_size=pretrain_img_size, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, out_indices=out_indices, frozen_stages=frozen_stages,
            norm_eval=norm_eval, with_cp=with_cp, init_cfg=init_cfg)
