"""Agent-PVT-T/S/M/L (spec: agent_attention.md §4): PVT v1 with agent attention in the ``A`` stages."""
from typing import Optional, Sequence, Union

from ...registry import register_model
from ..layers.agent_attention import AgentAttention
from ..layers.common import IntPair, per_stage, to_2tuple
from ..layers.window_attention import SpatialReductionAttention
from .base import BlockSpec
from .pvt_skeleton import PVTSkeleton

__all__ = ['AgentPVT']

_PVT_WIDTHS = dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4))


@register_model
class AgentPVT(PVTSkeleton):
    """Agent-PVT backbone (downstream form).

    Args:
        arch: ``'t'``, ``'s'``, ``'m'``, ``'l'`` (or ``'tiny'``/``'small'``/``'medium'``/``'large'``), or a
            dict with ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratios``, ``attn_type``.
        embed_dims, depths, num_heads, mlp_ratios, attn_type: overrides of the arch. ``attn_type``: ``A``
            agent attention, ``B`` PVT spatial-reduction attention, ``M`` + digits mixed. The official code
            had no ``M`` for PVT; mmagent supports it because both families share one layout parser.
        sr_ratios: spatial-reduction ratio of the ``B`` stages (8, 4, 2, 1). ``A`` stages attend globally.
        agent_num: pretraining agent count per stage (9, 16, 49, 49).
        agent_shapes: runtime agent grids, default the official downstream 12-16-28-28.
        kernel_size, scale, attn_mode: as in :class:`AgentAttention`.
        pos_embed_interp: resize mode of the stage position embeddings (``'bilinear'``, official).
        out_indices: stages whose maps are returned (no output norms, as in the official model).
        frozen_stages: -1 none; 0 ``patch_embed1`` + ``pos_embed1``; i >= 1 every module of stages 1..i.
        Others: as in :class:`AgentSwinTransformer`.

    Shapes: (B, 3, H, W), H, W >= 32 -> tuple of (B, C_i, ⌊H/2^(i+2)⌋, ⌊W/2^(i+2)⌋) (floor at each stage).
    """

    arch_zoo = {
        't': dict(_PVT_WIDTHS, depths=(2, 2, 2, 2), attn_type='AAAA'),
        's': dict(_PVT_WIDTHS, depths=(3, 4, 6, 3), attn_type='AAAA'),
        'm': dict(_PVT_WIDTHS, depths=(3, 4, 18, 3), attn_type='AAAA'),
        'l': dict(_PVT_WIDTHS, depths=(3, 8, 27, 3), attn_type='AAAA'),
    }

    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 attn_type: Optional[str] = None,
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 agent_num: Sequence[int] = (9, 16, 49, 49),
                 agent_shapes: Sequence[IntPair] = (12, 16, 28, 28),
                 kernel_size: int = 3,
                 scale: float = -0.5,
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
        num_stages = len(arch['depths'])
        sr_ratios = per_stage('sr_ratios', sr_ratios, num_stages)
        agent_num = per_stage('agent_num', agent_num, num_stages)
        agent_shapes = [to_2tuple(s, 'agent_shapes') for s in per_stage('agent_shapes', agent_shapes, num_stages)]

        def build_attention(spec: BlockSpec):
            if spec.letter == 'A':
                return AgentAttention(
                    spec.embed_dims, spec.num_heads, agent_num=agent_num[spec.stage],
                    agent_shape=agent_shapes[spec.stage], pretrain_hw=spec.pretrain_hw, qkv_bias=spec.qkv_bias,
                    qkv_layout='q_kv', kernel_size=kernel_size, scale=scale, attn_drop=spec.attn_drop,
                    proj_drop=spec.proj_drop, mode=attn_mode)
            return SpatialReductionAttention(spec.embed_dims, spec.num_heads, sr_ratio=sr_ratios[spec.stage],
                                             qkv_bias=spec.qkv_bias, attn_drop=spec.attn_drop,
                                             proj_drop=spec.proj_drop)

        super().__init__(
            arch['embed_dims'], arch['depths'], arch['num_heads'], arch['mlp_ratios'], arch['attn_type'],
            ('A', 'B'), build_attention, patch_size=patch_size, in_channels=in_channels, qkv_bias=qkv_bias,
            pretrain_img_size=pretrain_img_size, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate, pos_embed_interp=pos_embed_interp, out_indices=out_indices,
            frozen_stages=frozen_stages, norm_eval=norm_eval, with_cp=with_cp, init_cfg=init_cfg)
        self.agent_shapes = agent_shapes
