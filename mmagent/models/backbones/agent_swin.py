"""Agent-Swin-T/S/B: Swin with agent attention in the ``A`` blocks (docs/design/agent_attention.md)."""
from ...registry import register_model
from .attention_families import AgentAttentionFamily
from .base import with_layouts
from .swin_skeleton import SWIN_SIZES, SwinSkeleton

__all__ = ['AgentSwinTransformer']


@register_model
class AgentSwinTransformer(AgentAttentionFamily, SwinSkeleton):
    """Agent-Swin backbone (downstream form).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'``/``'small'``/``'base'``), or a dict with ``embed_dims``,
            ``depths``, ``num_heads``, ``attn_type``. Layout letters: ``A`` agent attention, ``B`` shifted-window
            attention, ``M`` + digits mixed (e.g. ``AAMB2``).
        agent_num, agent_shapes, kernel_size, scale: see :class:`AgentAttentionFamily`; the default agent grids
            are the official downstream ones, 9-12-14-7.
        window_size, patch_size, mlp_ratio, qkv_bias, embed_dims, depths, num_heads, attn_type: see
            :class:`SwinSkeleton` (odd blocks shift even on maps that fit one window, as the official
            downstream code does).
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.1), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), any H, W -> tuple of (B, C·2^i, ⌈H/2^(i+2)⌉, ⌈W/2^(i+2)⌉) for i in out_indices.
    """

    family = 'agent_swin'
    arch_zoo = with_layouts(SWIN_SIZES, dict(t='AAAB', s='AABB', b='AAMB2'))
    smoke_arch = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), attn_type='AAMB1')
    default_agent_shapes = (9, 12, 14, 7)
