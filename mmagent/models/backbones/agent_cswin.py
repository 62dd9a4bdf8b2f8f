"""Agent-CSwin-T/S/B: CSwin with agent attention over the whole map in the ``A`` blocks (official layout
``AABB``; docs/design/agent_attention.md)."""
from ...registry import register_model
from .attention_families import AgentAttentionFamily
from .base import with_layouts
from .cswin_skeleton import CSWIN_SIZES, CSwinSkeleton

__all__ = ['AgentCSwinTransformer']


@register_model
class AgentCSwinTransformer(AgentAttentionFamily, CSwinSkeleton):
    """Agent-CSwin backbone, usable at any resolution.

    ``A`` blocks run agent attention with LePE over the whole stage map at every input size (the released
    models do so at 224, where their "stripe" is the 56×56 / 28×28 map); the 224-sized biases are resized to
    the actual map. ``B`` blocks are CSwin's cross-shaped stripe attention.

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` or a dict (``embed_dims``, ``depths``, ``num_heads``, ``attn_type``);
            layout letters ``A`` (agent), ``B`` (CSwin stripes), ``M`` + digits (mixed).
        agent_num, agent_shapes, scale: see :class:`AgentAttentionFamily`. The default agent grids are the
            pretraining ones, 3-4-7-7 (no official downstream grids exist).
        kernel_size: kernel of the ``A`` blocks' LePE conv on V (3), their only depthwise term.
        split_sizes, mlp_ratio, qkv_bias, embed_dims, depths, num_heads, attn_type: see :class:`CSwinSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.2), attn_mode, out_indices,
            frozen_stages, norm_eval, with_cp, init_cfg: see :class:`BackboneBase`.

    Shapes: (B, 3, H, W), any H, W ≥ 3 -> tuple of (B, 64·2^i, H_i, W_i) (T/S), H_1 = ⌊(H − 3)/4⌋ + 1,
    H_i = ⌈H_{i−1}/2⌉.
    """

    family = 'agent_cswin'
    arch_zoo = with_layouts(CSWIN_SIZES, 'AABB')
    smoke_arch = dict(embed_dims=16, depths=(1, 2, 2, 1), num_heads=(2, 4, 8, 16), attn_type='AAMB1')
    default_agent_shapes = (3, 4, 7, 7)
    default_drop_path_rate = 0.2
