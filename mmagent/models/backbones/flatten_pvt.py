"""FLatten-PVT-T/S/M/L: PVT v1 with focused linear attention in every stage (official layout ``LLLL``, no
spatial reduction in the linear stages; docs/design/flatten_attention.md)."""
from ...registry import register_model
from .attention_families import FocusedLinearFamily
from .base import with_layouts
from .pvt_skeleton import PVT_SIZES, PVTSkeleton

__all__ = ['FLattenPVT']


@register_model
class FLattenPVT(FocusedLinearFamily, PVTSkeleton):
    """FLatten-PVT backbone, usable at any resolution (>= 32 px).

    ``L`` stages attend globally over the stage map with the 224-grid ``positional_encoding`` resized to the
    actual grid; the stage ``pos_embed`` is resized bilinearly as in the official code. Only the released
    ``la_sr_ratios='1111'`` (no spatial reduction in ``L`` stages) is supported.

    Args:
        arch: ``'t'``, ``'s'``, ``'m'``, ``'l'`` or a dict (``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratios``, ``attn_type``); layout letters ``L`` focused linear attention, ``S`` PVT
            spatial-reduction attention, ``M`` + digits.
        focusing_factor, kernel_size, pe_interp, fp32_attention: see :class:`FocusedLinearFamily`.
        sr_ratios, patch_size, qkv_bias, embed_dims, depths, num_heads, mlp_ratios, attn_type: see
            :class:`PVTSkeleton`; ``sr_ratios`` apply to the ``S`` stages.
        pos_embed_interp: see :class:`PyramidSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.1), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), H, W >= 32 -> tuple of (B, C_i, ⌊H/2^(i+2)⌋, ⌊W/2^(i+2)⌋) for i in out_indices.
    """

    family = 'flatten_pvt'
    arch_zoo = with_layouts(PVT_SIZES, 'LLLL')
    smoke_arch = dict(embed_dims=(16, 32, 80, 128), depths=(1, 1, 2, 1), attn_type='LLMS1')
