"""Agent-PVT-T/S/M/L: PVT v1 with agent attention in the ``A`` stages (docs/design/agent_attention.md)."""
from ...registry import register_model
from .attention_families import AgentAttentionFamily
from .base import with_layouts
from .pvt_skeleton import PVT_SIZES, PVTSkeleton

__all__ = ['AgentPVT']


@register_model
class AgentPVT(AgentAttentionFamily, PVTSkeleton):
    """Agent-PVT backbone (downstream form).

    Args:
        arch: ``'t'``, ``'s'``, ``'m'``, ``'l'`` (or ``'tiny'``/``'small'``/``'medium'``/``'large'``), or a dict
            with ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``, ``attn_type``. Layout letters: ``A``
            agent attention (global), ``B`` spatial-reduction attention, ``M`` + digits mixed (the official code
            had no ``M`` for PVT; every skeleton shares one layout parser).
        agent_num, agent_shapes, kernel_size, scale: see :class:`AgentAttentionFamily`; the default agent grids
            are the official downstream ones, 12-16-28-28.
        sr_ratios, patch_size, qkv_bias, embed_dims, depths, num_heads, mlp_ratios, attn_type: see
            :class:`PVTSkeleton`.
        pos_embed_interp: see :class:`PyramidSkeleton` (``'bilinear'``, official).
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.1), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), H, W >= 32 -> tuple of (B, C_i, ⌊H/2^(i+2)⌋, ⌊W/2^(i+2)⌋) (floor at each stage).
    """

    family = 'agent_pvt'
    arch_zoo = with_layouts(PVT_SIZES, 'AAAA')
    smoke_arch = dict(embed_dims=(16, 32, 80, 128), depths=(1, 1, 2, 1), attn_type='AAMB1')
    default_agent_shapes = (12, 16, 28, 28)
