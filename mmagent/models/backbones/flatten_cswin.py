"""FLatten-CSwin-T/S/B: CSwin with focused linear attention over the whole map in the ``L`` blocks (official
layout ``LLSS``; docs/design/flatten_attention.md)."""
from ...registry import register_model
from .attention_families import FocusedLinearFamily
from .base import with_layouts
from .cswin_skeleton import CSWIN_SIZES, CSwinSkeleton

__all__ = ['FLattenCSwinTransformer']


@register_model
class FLattenCSwinTransformer(FocusedLinearFamily, CSwinSkeleton):
    """FLatten-CSwin backbone, usable at any resolution.

    ``L`` blocks run focused linear attention plus LePE over the whole stage map at every input size, with the
    224-grid ``positional_encoding`` resized to the actual map; ``S`` blocks are CSwin's cross-shaped stripe
    attention. FLatten-CSwin-S is 2-4-32-2 deep (Agent-CSwin-S: 3-6-29-2).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict (``embed_dims``, ``depths``, ``num_heads``, ``attn_type``);
            layout letters ``L`` (focused linear), ``S`` (CSwin stripes), ``M`` + digits (mixed).
        focusing_factor, kernel_size, pe_interp, fp32_attention: see :class:`FocusedLinearFamily`.
        split_sizes, mlp_ratio, qkv_bias, embed_dims, depths, num_heads, attn_type: see :class:`CSwinSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.2), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), any H, W ≥ 3 -> tuple of (B, 64·2^i, H_i, W_i) (T/S), H_1 = ⌊(H − 3)/4⌋ + 1,
    H_i = ⌈H_{i−1}/2⌉.
    """

    family = 'flatten_cswin'
    arch_zoo = with_layouts(dict(CSWIN_SIZES, s=dict(CSWIN_SIZES['s'], depths=(2, 4, 32, 2))), 'LLSS')
    smoke_arch = dict(embed_dims=16, depths=(1, 2, 2, 1), num_heads=(2, 4, 8, 16), attn_type='LLMS1')
    default_drop_path_rate = 0.2
