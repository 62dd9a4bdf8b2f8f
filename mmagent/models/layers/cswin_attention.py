"""The attention branches of the CSwin blocks (Agent-CSwin, FLatten-CSwin; docs/design/skeletons.md).

A CSwin block projects Q, K, V once (its own ``qkv``) and hands them, whole or split in two channel halves, to
its *branches*; each branch adds LePE, a depthwise 3×3 conv ``get_v`` on V computed inside the branch's
window, to its attention output. The branches here receive projected tensors, so their parameters are only
the ones the official checkpoints store under ``attns.{i}``:

* :class:`StripeAttention`: CSwin's softmax attention inside vertical or horizontal stripes (or over the
  whole map), the map zero-padded at the bottom/right to a multiple of the stripe and cropped afterwards;
* :class:`CSwinAgentAttention`: agent attention over the whole map (``an/na/ah/aw/ha/wa_bias``);
* :class:`CSwinFocusedLinearAttention`: focused linear attention over the whole map (``scale``,
  ``positional_encoding``, ``dwc``).
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_model
from .agent_attention import AgentAttentionCore
from .base import AttentionOp
from .common import IntPair, depthwise_conv_tokens, merge_heads, split_heads
from .export import capturing_graph
from .focused_linear_attention import FP32Attention, FocusedLinearCore
from .workspace_attention import scaled_dot_product_attention

__all__ = ['StripeAttention', 'CSwinAgentAttention', 'CSwinFocusedLinearAttention', 'STRIPES']

STRIPES = ('vertical', 'horizontal', 'global')


def _lepe_conv(embed_dims: int, kernel_size: int = 3) -> nn.Conv2d:
    return nn.Conv2d(embed_dims, embed_dims, kernel_size, padding=kernel_size // 2, groups=embed_dims)


def _check_tokens(name: str, q: torch.Tensor, hw_shape: Tuple[int, int]) -> None:
    if q.shape[1] != hw_shape[0] * hw_shape[1]:
        raise ValueError(f'{name} got {q.shape[1]} tokens for a {hw_shape[0]}x{hw_shape[1]} map')


@register_model
class StripeAttention(AttentionOp):
    """CSwin's LePE attention: softmax attention inside stripes of the map, plus LePE inside each stripe.

    Args:
        embed_dims: channels of the Q/K/V it receives (half the block's channels in a two-branch block).
        num_heads: heads of this branch.
        stripe: ``'vertical'`` (full-height stripes ``split_size`` wide: the official branch 0),
            ``'horizontal'`` (full-width stripes ``split_size`` high: branch 1) or ``'global'`` (one window, the
            whole map: the single branch of the last stage and of stages whose 224 map equals the stripe).
        split_size: stripe width.
        attn_drop: dropout on the attention map.

    A map whose side is not a multiple of the stripe is zero-padded at the bottom/right (padded queries,
    keys and values are zero, as in CSwin's own segmentation code) and cropped afterwards.

    Shapes: ``forward(q, k, v, hw_shape)``: three (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 stripe: str = 'global',
                 split_size: int = 7,
                 attn_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, init_cfg=init_cfg)
        if stripe not in STRIPES:
            raise ValueError(f'stripe must be one of {STRIPES}, got {stripe!r}')
        if split_size < 1:
            raise ValueError(f'split_size must be >= 1, got {split_size}')
        self.stripe = stripe
        self.split_size = split_size
        self.scale = self.head_dims**-0.5
        self.attn_drop = nn.Dropout(attn_drop)
        self.get_v = _lepe_conv(embed_dims)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, stripe={self.stripe!r}, '
                f'split_size={self.split_size}')

    def window_shape(self, hw_shape: Tuple[int, int]) -> Tuple[int, int]:
        """(h_sp, w_sp) of the windows on an (H, W) map."""
        height, width = hw_shape
        if self.stripe == 'vertical':
            return height, self.split_size
        if self.stripe == 'horizontal':
            return self.split_size, width
        return height, width

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        _check_tokens(type(self).__name__, q, hw_shape)
        height, width = hw_shape
        batch, _, channels = q.shape
        h_sp, w_sp = self.window_shape(hw_shape)
        pad_h, pad_w = -height % h_sp, -width % w_sp
        padded = (height + pad_h, width + pad_w)

        def to_windows(t: torch.Tensor) -> torch.Tensor:  # (B, H·W, C) -> (B·n_win, h_sp·w_sp, C)
            t = t.reshape(batch, height, width, channels)
            if capturing_graph() or pad_h or pad_w:
                t = F.pad(t, (0, 0, 0, pad_w, 0, pad_h))
            t = t.view(batch, padded[0] // h_sp, h_sp, padded[1] // w_sp, w_sp, channels)
            return t.permute(0, 1, 3, 2, 4, 5).reshape(-1, h_sp * w_sp, channels)

        q_w, k_w, v_w = to_windows(q), to_windows(k), to_windows(v)
        lepe = depthwise_conv_tokens(v_w, (h_sp, w_sp), self.get_v)
        drop = self.attn_drop.p if self.training else 0.
        out = scaled_dot_product_attention(*(split_heads(t, self.num_heads) for t in (q_w, k_w, v_w)),
                                           dropout_p=drop, scale=self.scale)
        out = merge_heads(out) + lepe
        out = out.view(batch, padded[0] // h_sp, padded[1] // w_sp, h_sp, w_sp, channels)
        out = out.permute(0, 1, 3, 2, 4, 5).reshape(batch, *padded, channels)
        if capturing_graph() or pad_h or pad_w:
            out = out[:, :height, :width]
        return out.reshape(batch, height * width, channels)


@register_model
class CSwinAgentAttention(AgentAttentionCore):
    """Agent attention over the whole map with LePE (Agent-CSwin's ``A`` blocks): the agent attention of
    :class:`AgentAttentionCore` plus ``get_v``, a depthwise conv on V over the map (Agent-CSwin has no DWC of
    its own).

    Args:
        embed_dims, num_heads, agent_num, agent_shape, pretrain_hw, scale, attn_drop, mode: see
            :class:`AgentAttentionCore` (``pretrain_hw`` is the stage map at 224: 56, 28, 14, 7).
        kernel_size: kernel of ``get_v`` (3).

    Shapes: ``forward(q, k, v, hw_shape)``: three (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 agent_num: int = 49,
                 agent_shape: Optional[IntPair] = None,
                 pretrain_hw: IntPair = 7,
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 attn_drop: float = 0.,
                 mode: str = 'fast',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, agent_num=agent_num, agent_shape=agent_shape, pretrain_hw=pretrain_hw,
                         scale=scale, attn_drop=attn_drop, mode=mode, init_cfg=init_cfg)
        self.get_v = _lepe_conv(embed_dims, kernel_size)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        _check_tokens(type(self).__name__, q, hw_shape)
        return self.attend(q, k, v, tuple(hw_shape)) + depthwise_conv_tokens(v, tuple(hw_shape), self.get_v)


@register_model
class CSwinFocusedLinearAttention(FocusedLinearCore):
    """Focused linear attention over the whole map with LePE (FLatten-CSwin's ``L`` blocks): the FLatten
    output and its DWC term (:class:`FocusedLinearCore`) plus ``get_v``, a depthwise 3×3 conv on V; both terms
    are added, as in the official model.

    Args:
        embed_dims, num_heads, pretrain_hw, focusing_factor, kernel_size, pe_interp, fp32_attention, mode: see
            :class:`FocusedLinearCore` (``kernel_size`` is the DWC's; ``get_v`` is 3×3).

    Shapes: ``forward(q, k, v, hw_shape)``: three (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 pretrain_hw: IntPair = 56,
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 pe_interp: str = 'bicubic',
                 fp32_attention: FP32Attention = 'fp16',
                 mode: str = 'fast',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, pretrain_hw=pretrain_hw, focusing_factor=focusing_factor,
                         kernel_size=kernel_size, pe_interp=pe_interp, fp32_attention=fp32_attention, mode=mode,
                         init_cfg=init_cfg)
        self.get_v = _lepe_conv(embed_dims)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        _check_tokens(type(self).__name__, q, hw_shape)
        return self.attend(q, k, v, tuple(hw_shape)) + depthwise_conv_tokens(v, tuple(hw_shape), self.get_v)
