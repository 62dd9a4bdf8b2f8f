"""FLatten-PVTv2-B0..B4: PVTv2 with focused linear attention in every stage (official layout ``LLLL``, no
spatial reduction in the linear stages; docs/design/flatten_attention.md)."""
from ...registry import register_model
from .attention_families import FocusedLinearFamily
from .base import with_layouts
from .pvtv2_skeleton import PVTV2_SIZES, PVTv2Skeleton

__all__ = ['FLattenPVTv2']


@register_model
class FLattenPVTv2(FocusedLinearFamily, PVTv2Skeleton):
    """FLatten-PVTv2 backbone, usable at any resolution.

    ``L`` stages attend globally over the stage map with the 224-grid ``positional_encoding`` resized to the
    actual grid (the official models run only at 224); ``S`` stages are PVTv2 spatial-reduction attention.

    Args:
        arch: ``'b0'`` ... ``'b4'`` or a dict (``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``,
            ``attn_type``); layout letters ``L``, ``S``, ``M`` + digits.
        focusing_factor, kernel_size, pe_interp, fp32_attention: see :class:`FocusedLinearFamily`.
        sr_ratios, qkv_bias: see :class:`PVTSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.1), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), any H, W -> tuple of (B, C_i, H_i, W_i), H_1 = ⌈H/4⌉, H_i = ⌈H_{i−1}/2⌉.
    """

    family = 'flatten_pvtv2'
    arch_zoo = with_layouts(PVTV2_SIZES, 'LLLL')
    smoke_arch = dict(embed_dims=(16, 32, 80, 128), depths=(1, 1, 2, 1), attn_type='LLMS1')
