"""Agent-Swin-T/S/B (spec: agent_attention.md §3): Swin with agent attention in the ``A`` blocks."""
from typing import Optional, Sequence, Union

from ...registry import register_model
from ..layers.agent_attention import AgentAttention
from ..layers.common import IntPair, per_stage, to_2tuple
from ..layers.window_attention import ShiftedWindowAttention
from .base import BlockSpec
from .swin_skeleton import SwinSkeleton

__all__ = ['AgentSwinTransformer']


@register_model
class AgentSwinTransformer(SwinSkeleton):
    """Agent-Swin backbone (downstream form).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'``/``'small'``/``'base'``), or a dict with
            ``embed_dims``, ``depths``, ``num_heads``, ``attn_type``. Explicit arguments below override it.
        embed_dims, depths, num_heads, attn_type: overrides of the arch. ``attn_type`` is the layout string:
            ``A`` agent attention, ``B`` shifted-window attention, ``M`` + digits mixed (e.g. ``AAMB2``).
        agent_num: pretraining agent count per stage (9, 16, 49, 49); fixes the bias shapes.
        agent_shapes: runtime agent grid per stage, an int or (a_h, a_w) each; default the official
            downstream grids 9-12-14-7.
        window_size: window of the ``B`` blocks (7).
        kernel_size: depthwise conv on V in the ``A`` blocks (3).
        scale: softmax scale exponent of the ``A`` blocks (-0.5).
        attn_mode: ``'fast'`` or ``'naive'`` (official literal computation), see :class:`AgentAttention`.
        patch_size, in_channels, mlp_ratio, qkv_bias: as in Swin.
        pretrain_img_size: ImageNet input size of the checkpoint (224); fixes the bias grids 56/28/14/7.
        drop_rate, attn_drop_rate, drop_path_rate: dropout and stochastic depth (linear over all blocks).
        out_indices: stages whose ``norm{i}``-normalised maps are returned.
        frozen_stages: -1 none; 0 the patch embedding; i >= 1 also stages 1..i with their merging layers
            and output norms (eval mode, no gradients), enforced in ``train()``.
        norm_eval: put BatchNorm layers in eval mode (a no-op here: the backbone has only LayerNorm).
        with_cp: activation checkpointing per block.
        init_cfg: None (train from scratch with the official init) or
            ``dict(type='Pretrained', checkpoint=path[, prefix='backbone.'][, strict=True])`` accepting an
            official ImageNet checkpoint as released, a converted one, or an mmagent checkpoint.

    Shapes: (B, 3, H, W), any H, W -> tuple of (B, C·2^i, ⌈H/2^(i+2)⌉, ⌈W/2^(i+2)⌉) for i in out_indices.
    """

    arch_zoo = {
        't': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), attn_type='AAAB'),
        's': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24), attn_type='AABB'),
        'b': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), attn_type='AAMB2'),
    }

    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 attn_type: Optional[str] = None,
                 agent_num: Sequence[int] = (9, 16, 49, 49),
                 agent_shapes: Sequence[IntPair] = (9, 12, 14, 7),
                 window_size: int = 7,
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 attn_mode: str = 'fast',
                 patch_size: int = 4,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        arch = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                                 attn_type=attn_type)
        num_stages = len(arch['depths'])
        agent_num = per_stage('agent_num', agent_num, num_stages)
        agent_shapes = [to_2tuple(s, 'agent_shapes') for s in per_stage('agent_shapes', agent_shapes, num_stages)]

        def build_attention(spec: BlockSpec):
            if spec.letter == 'A':
                return AgentAttention(
                    spec.embed_dims, spec.num_heads, agent_num=agent_num[spec.stage],
                    agent_shape=agent_shapes[spec.stage], pretrain_hw=spec.pretrain_hw, qkv_bias=spec.qkv_bias,
                    qkv_layout='qkv', kernel_size=kernel_size, scale=scale, attn_drop=spec.attn_drop,
                    proj_drop=spec.proj_drop, mode=attn_mode)
            return ShiftedWindowAttention(
                spec.embed_dims, spec.num_heads, window_size=window_size,
                shift_size=0 if spec.index % 2 == 0 else window_size // 2, qkv_bias=spec.qkv_bias,
                attn_drop=spec.attn_drop, proj_drop=spec.proj_drop, no_shift_on_small_map=False)

        super().__init__(
            arch['embed_dims'], arch['depths'], arch['num_heads'], arch['attn_type'], ('A', 'B'), build_attention,
            patch_size=patch_size, in_channels=in_channels, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
            pretrain_img_size=pretrain_img_size, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, out_indices=out_indices, frozen_stages=frozen_stages,
            norm_eval=norm_eval, with_cp=with_cp, init_cfg=init_cfg)
        self.agent_shapes = agent_shapes
