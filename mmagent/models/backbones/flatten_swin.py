"""FLatten-Swin-T/S/B: Swin with focused linear attention in the ``L`` stages (official layout ``LLSS``:
stages 1-2 linear, 3-4 window attention; docs/design/flatten_attention.md)."""
from ...registry import register_model
from .attention_families import FocusedLinearFamily
from .base import with_layouts
from .swin_skeleton import SWIN_SIZES, SwinSkeleton

__all__ = ['FLattenSwinTransformer']


@register_model
class FLattenSwinTransformer(FocusedLinearFamily, SwinSkeleton):
    """FLatten-Swin backbone, usable at any resolution.

    ``L`` blocks attend globally over the whole stage map at every input size: this is what the released
    models do at 224 (their 56-wide "window" covers the whole stage-1/2 map) and what linear attention makes
    affordable at 1280×800. ``S`` blocks are Swin window attention (window 7, shift 3 on odd blocks, no shift
    when the map fits in one window, as in the classification code).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict (``embed_dims``, ``depths``, ``num_heads``, ``attn_type``);
            layout letters ``L`` (focused linear), ``S`` (window softmax), ``M`` + digits (mixed).
        focusing_factor, kernel_size, pe_interp, fp32_attention: see :class:`FocusedLinearFamily`.
        window_size, patch_size, mlp_ratio, qkv_bias, embed_dims, depths, num_heads, attn_type: see
            :class:`SwinSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.2), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), any H, W -> tuple of (B, C·2^i, ⌈H/2^(i+2)⌉, ⌈W/2^(i+2)⌉) for i in out_indices.
    """

    family = 'flatten_swin'
    arch_zoo = with_layouts(SWIN_SIZES, 'LLSS')
    smoke_arch = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), attn_type='LLSS')
    no_shift_on_small_map = True
    default_drop_path_rate = 0.2
