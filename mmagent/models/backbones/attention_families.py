"""The attention families, as mixins that put their attention into the efficient blocks of any skeleton
(docs/design/skeletons.md). A registered backbone is ``class X(Family, Skeleton)`` plus its ``arch_zoo``:
the family adds its own arguments and :meth:`build_efficient_attention`; everything else is the skeleton's."""
from typing import ClassVar, Sequence, Tuple

import torch.nn as nn

from ..layers.agent_attention import AgentAttention
from ..layers.common import IntPair, per_stage, to_2tuple
from ..layers.cswin_attention import CSwinAgentAttention, CSwinFocusedLinearAttention
from ..layers.focused_linear_attention import FP32Attention, FocusedLinearAttention
from .base import BlockSpec

__all__ = ['AgentAttentionFamily', 'FocusedLinearFamily']


class AgentAttentionFamily:
    """Agent attention in the ``A`` blocks; the skeleton's host attention in the ``B`` blocks.

    Args:
        arch: a named size of the backbone's ``arch_zoo`` (default ``default_arch``) or a dict; see the skeleton.
        agent_num: pretraining agent count per stage (9, 16, 49, 49); fixes the bias shapes.
        agent_shapes: runtime agent grid per stage, an int or (a_h, a_w) each; default the family's official
            downstream grids (``default_agent_shapes``).
        kernel_size: depthwise conv on V (3).
        scale: softmax scale exponent (-0.5).
        **kwargs: the skeleton's arguments.
    """

    layout_letters: ClassVar[Tuple[str, str]] = ('A', 'B')
    default_agent_shapes: ClassVar[Sequence[IntPair]] = (7, 7, 7, 7)

    def __init__(self,
                 arch=None,
                 *,
                 agent_num: Sequence[int] = (9, 16, 49, 49),
                 agent_shapes: Sequence[IntPair] = None,
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 **kwargs) -> None:
        self.agent_num = agent_num
        self.agent_shapes = self.default_agent_shapes if agent_shapes is None else agent_shapes
        self.agent_kernel_size = kernel_size
        self.agent_scale = scale
        super().__init__(arch, **kwargs)
        self.agent_shapes = [to_2tuple(s, 'agent_shapes') for s in per_stage('agent_shapes', self.agent_shapes,
                                                                              self.num_stages)]

    def _agent_grid(self, spec: BlockSpec) -> Tuple[int, Tuple[int, int]]:
        """(agent_num, runtime agent grid) of ``spec``'s stage."""
        agent_num = per_stage('agent_num', self.agent_num, spec.num_stages)[spec.stage]
        agent_shape = per_stage('agent_shapes', self.agent_shapes, spec.num_stages)[spec.stage]
        return agent_num, to_2tuple(agent_shape, 'agent_shapes')

    def build_efficient_attention(self, spec: BlockSpec) -> nn.Module:
        agent_num, agent_shape = self._agent_grid(spec)
        return AgentAttention(
            spec.embed_dims, spec.num_heads, agent_num=agent_num, agent_shape=agent_shape, pretrain_hw=spec.pretrain_hw,
            qkv_bias=spec.qkv_bias, qkv_layout=self.qkv_layout, kernel_size=self.agent_kernel_size,
            scale=self.agent_scale, attn_drop=spec.attn_drop, proj_drop=spec.proj_drop, mode=self.attn_mode)

    def build_efficient_branch(self, spec: BlockSpec) -> nn.Module:
        """CSwin form: agent attention on the block's projected Q/K/V; ``kernel_size`` is its LePE conv on V."""
        agent_num, agent_shape = self._agent_grid(spec)
        return CSwinAgentAttention(
            spec.embed_dims, spec.num_heads, agent_num=agent_num, agent_shape=agent_shape, pretrain_hw=spec.pretrain_hw,
            kernel_size=self.agent_kernel_size, scale=self.agent_scale, attn_drop=spec.attn_drop, mode=self.attn_mode)


class FocusedLinearFamily:
    """Focused linear attention in the ``L`` blocks (global over the stage map, at any input size, with the
    224-grid ``positional_encoding`` resized to the actual map); the skeleton's host attention in the ``S``
    blocks.

    Args:
        arch: a named size of the backbone's ``arch_zoo`` (default ``default_arch``) or a dict; see the skeleton.
        focusing_factor: p of the focusing function (3).
        kernel_size: DWC kernel (5).
        pe_interp: resize mode of the positional encodings (``'bicubic'`` or ``'bilinear'``).
        fp32_attention: which half-precision inputs φ, z and KᵀV run from in fp32 under autocast: ``'fp16'``
            (default; bf16 runs natively), ``True`` (fp16 and bf16) or ``False``.
        **kwargs: the skeleton's arguments.
    """

    layout_letters: ClassVar[Tuple[str, str]] = ('L', 'S')

    def __init__(self,
                 arch=None,
                 *,
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 pe_interp: str = 'bicubic',
                 fp32_attention: FP32Attention = 'fp16',
                 **kwargs) -> None:
        self.focusing_factor = focusing_factor
        self.flatten_kernel_size = kernel_size
        self.pe_interp = pe_interp
        self.fp32_attention = fp32_attention
        super().__init__(arch, **kwargs)

    def build_efficient_attention(self, spec: BlockSpec) -> nn.Module:
        return FocusedLinearAttention(
            spec.embed_dims, spec.num_heads, pretrain_hw=spec.pretrain_hw, qkv_bias=spec.qkv_bias,
            qkv_layout=self.qkv_layout, focusing_factor=self.focusing_factor, kernel_size=self.flatten_kernel_size,
            pe_interp=self.pe_interp, fp32_attention=self.fp32_attention, proj_drop=spec.proj_drop,
            mode=self.attn_mode)

    def build_efficient_branch(self, spec: BlockSpec) -> nn.Module:
        """CSwin form: focused linear attention on the block's projected Q/K/V, with LePE."""
        return CSwinFocusedLinearAttention(
            spec.embed_dims, spec.num_heads, pretrain_hw=spec.pretrain_hw, focusing_factor=self.focusing_factor,
            kernel_size=self.flatten_kernel_size, pe_interp=self.pe_interp, fp32_attention=self.fp32_attention,
            mode=self.attn_mode)
