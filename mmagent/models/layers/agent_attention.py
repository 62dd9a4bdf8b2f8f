"""Agent Attention (Han et al., ECCV 2024), downstream form (docs/design/agent_attention.md).

Per head, with agents ``A = AdaptiveAvgPool(Q)`` on an (a_h, a_w) grid::

    Y = proj( softmax(s·Q·Aᵀ + B₂) · softmax(s·A·Kᵀ + B₁) · V  +  DWC(V) )

The position biases are stored at the ImageNet pretraining grid (keys and shapes of the official
checkpoints) and resized at run time to the actual feature size (H, W) and agent grid (a_h, a_w).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_model
from .base import AttentionOp
from .biased_attention import biased_attention
from .common import (IntPair, QKVProjection, depthwise_conv_tokens, init_linear_trunc_normal, merge_heads,
                     pool_tokens_to_grid, resize_grid, resize_matrix, split_heads, to_2tuple)
from .export import adaptive_avg_pool2d, recording_graph
from .workspace_attention import scaled_dot_product_attention, workspace_attention, workspace_attention_preferred

__all__ = ['AgentAttentionCore', 'AgentAttention']


# dtypes in which a training step folds the biases into the fused attention (see AgentAttentionCore.attend)
FUSED_TRAINING_DTYPES = (torch.float32, torch.float64)


class AgentAttentionCore(AttentionOp):
    """The agent part of agent attention, on projected Q, K, V: agents pooled from Q, the stored position
    biases resized to the map, and the two softmax attentions (no projections, no term on V). The Swin/PVT
    op :class:`AgentAttention` and the CSwin branch add their own projections and V term around it.

    Args:
        embed_dims, num_heads: channels C and heads h of the Q/K/V it receives.
        agent_num: pretraining agent count n = P² (9, 16, 49 in the released models); fixes the bias shapes.
        agent_shape: runtime agent grid (a_h, a_w); defaults to (P, P).
        pretrain_hw: token grid R of this stage at the pretraining resolution (56, 28, 14, 7 at 224); fixes
            the length of ``ah/aw/ha/wa_bias``.
        scale: softmax scale exponent: s = head_dim ** scale (-0.5 in every config).
        attn_drop: dropout on both attention maps.
        mode: ``'fast'`` (fused, biases broadcast over the batch and cached at inference) or ``'naive'`` (the
            official literal computation).

    Shapes: ``attend(q, k, v, hw_shape)``: three (B, H·W, C) -> (B, H·W, C), heads merged.
    """

    modes = ('fast', 'naive')

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 agent_num: int = 49,
                 agent_shape: Optional[IntPair] = None,
                 pretrain_hw: IntPair = 7,
                 scale: float = -0.5,
                 attn_drop: float = 0.,
                 mode: str = 'fast',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, mode=mode, init_cfg=init_cfg)
        pool = math.isqrt(agent_num)
        if pool * pool != agent_num:
            raise ValueError(f'agent_num must be a perfect square (the agents form a P×P grid), got {agent_num}')
        self.agent_num = agent_num
        self.pool_size = pool
        self.agent_shape = to_2tuple(agent_shape if agent_shape is not None else pool, 'agent_shape')
        self.pretrain_hw = to_2tuple(pretrain_hw, 'pretrain_hw')
        self.scale = self.head_dims ** scale
        self.attn_drop = nn.Dropout(attn_drop)

        h, n = num_heads, agent_num
        r_h, r_w = self.pretrain_hw
        self.an_bias = nn.Parameter(torch.zeros(h, n, 7, 7))
        self.na_bias = nn.Parameter(torch.zeros(h, n, 7, 7))
        self.ah_bias = nn.Parameter(torch.zeros(1, h, n, r_h, 1))
        self.aw_bias = nn.Parameter(torch.zeros(1, h, n, 1, r_w))
        self.ha_bias = nn.Parameter(torch.zeros(1, h, r_h, 1, n))
        self.wa_bias = nn.Parameter(torch.zeros(1, h, 1, r_w, n))
        for bias in self._bias_params():
            nn.init.trunc_normal_(bias, std=.02)
        self.bias_cache = self.new_derived_cache()

    def use_pretraining_agent_grid(self) -> bool:
        """Run on the P×P agent grid of the ImageNet models (P² = ``agent_num``) instead of the downstream
        grid; returns whether anything changed."""
        grid = (self.pool_size, self.pool_size)
        if self.agent_shape == grid:
            return False
        self.agent_shape = grid
        self.bias_cache.clear()
        return True

    def _bias_params(self) -> Sequence[nn.Parameter]:
        return (self.an_bias, self.na_bias, self.ah_bias, self.aw_bias, self.ha_bias, self.wa_bias)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, agent_num={self.agent_num}, '
                f'agent_shape={self.agent_shape}, mode={self.mode!r}')

    # ------------------------------------------------------------------------------------------------
    # Position biases
    def _resize_agent_axis(self, maps: torch.Tensor) -> torch.Tensor:
        """(G, n, H, W) with n = P·P row-major -> (G, N, n') resized to the runtime agent grid."""
        g, _, height, width = maps.shape
        p = self.pool_size
        grid = maps.reshape(g, p, p, height * width).permute(0, 3, 1, 2)
        return resize_grid(grid, self.agent_shape).reshape(g, height * width, -1)

    def position_biases(self, hw_shape: Tuple[int, int],
                        dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """B₁ (1, h, n', N) agent→token and B₂ (1, h, N, n') token→agent for an (H, W) map (docs/design/agent_attention.md),
        contiguous and in ``dtype`` (default: the parameters'), as the fused attention takes its mask without a copy.

        Cached per (H, W) and dtype at inference (under autocast the cast to bf16 is cached too); recomputed
        whenever gradients are on.
        """
        dtype = dtype or self.an_bias.dtype

        def compute() -> Tuple[torch.Tensor, torch.Tensor]:
            return tuple(b.to(dtype).contiguous() for b in self._compute_biases(tuple(hw_shape)))

        return self.bias_cache.get(self, (tuple(hw_shape), dtype), self._bias_params(), compute)

    def _spatial_biases(self, hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The biases resized to the (H, W) map on the pretraining agent grid: agent→token and token→agent,
        each (h, n, H, W)."""
        agent_to_token = (resize_grid(self.an_bias, hw_shape)
                          + resize_grid((self.ah_bias + self.aw_bias)[0], hw_shape))
        token_to_agent = (resize_grid(self.na_bias, hw_shape)
                          + resize_grid((self.ha_bias + self.wa_bias)[0].permute(0, 3, 1, 2), hw_shape))
        return agent_to_token, token_to_agent

    def _compute_biases(self, hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.num_heads
        agent_to_token, token_to_agent = self._spatial_biases(hw_shape)
        # One agent-axis resize for both directions: (2h, n, H, W) -> (2h, N, n').
        both = self._resize_agent_axis(torch.cat([agent_to_token, token_to_agent], dim=0))
        return both[:h].transpose(1, 2).unsqueeze(0), both[h:].unsqueeze(0)

    def agent_resize_matrix(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """(n', n): the bilinear resize of the P×P agent grid to the runtime grid as a matrix (row-major cells),
        so that B₁ = R·b₁ and B₂ = b₂·Rᵀ for the spatially resized biases b₁ (n, N) and b₂ (N, n)."""
        rows = resize_matrix(self.pool_size, self.agent_shape[0], 'bilinear', dtype, device)
        cols = resize_matrix(self.pool_size, self.agent_shape[1], 'bilinear', dtype, device)
        return torch.kron(rows, cols)

    def _bias_factors(self, hw_shape: Tuple[int, int], dtype: torch.dtype,
                      device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The factors of the resized biases, B₁ = R·b₁ (h, n', N) and B₂ = b₂·Rᵀ (h, N, n'), in ``dtype``: the
        fixed agent-axis resize R (n', n) and the spatially resized biases b₁ (h, n, N) and b₂ (h, N, n)."""
        agent_to_token, token_to_agent = self._spatial_biases(hw_shape)  # (h, n, H, W) each
        return (self.agent_resize_matrix(dtype, device), agent_to_token.flatten(2).to(dtype),
                token_to_agent.flatten(2).transpose(1, 2).to(dtype))

    def _naive_biases(self, hw_shape: Tuple[int, int], batch: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """The official literal computation: every term resized separately, then repeated over the batch."""
        h = self.num_heads
        n_agents = self.agent_shape[0] * self.agent_shape[1]
        n_tokens = hw_shape[0] * hw_shape[1]

        def agent_axis(t):
            t = F.interpolate(t, size=hw_shape, mode='bilinear')
            t = t.reshape(h, self.pool_size, self.pool_size, n_tokens).permute(0, 3, 1, 2)
            return F.interpolate(t, size=self.agent_shape, mode='bilinear')

        b1 = agent_axis(self.an_bias).reshape(h, n_tokens, n_agents).permute(0, 2, 1)
        b1 = b1.reshape(1, h, n_agents, n_tokens).repeat(batch, 1, 1, 1)
        b1b = agent_axis((self.ah_bias + self.aw_bias).squeeze(0)).reshape(h, n_tokens, n_agents)
        b1b = b1b.permute(0, 2, 1).reshape(1, h, n_agents, n_tokens).repeat(batch, 1, 1, 1)
        b2 = agent_axis(self.na_bias).reshape(1, h, n_tokens, n_agents).repeat(batch, 1, 1, 1)
        b2b = agent_axis((self.ha_bias + self.wa_bias).squeeze(0).permute(0, 3, 1, 2))
        b2b = b2b.reshape(1, h, n_tokens, n_agents).repeat(batch, 1, 1, 1)
        return b1 + b1b, b2 + b2b

    # ------------------------------------------------------------------------------------------------
    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """softmax(s·Q·Aᵀ + B₂) · softmax(s·A·Kᵀ + B₁) · V per head, A = the agents pooled from Q."""
        if self.mode == 'naive':
            return self._naive_attend(q, k, v, hw_shape)
        agents = pool_tokens_to_grid(q, hw_shape, self.agent_shape)
        q_h, k_h, v_h, a_h = (split_heads(t, self.num_heads) for t in (q, k, v, agents))
        drop = self.attn_drop.p if self.training else 0.
        if self._needs_grad(q, k, v):
            # The column form pays off where the fused kernel is fast: fp32 / fp64. Under bf16 autocast the fused
            # kernel's backward at head dims 32 + n is slower on the CPU than the explicit form (docs/benchmarks.md).
            if self.agent_shape[0] * self.agent_shape[1] > self.agent_num and q_h.dtype in FUSED_TRAINING_DTYPES:
                if self.agent_num > q_h.shape[-1] and q_h.device.type == 'cpu' and not drop and not recording_graph():
                    return merge_heads(self._attend_blocked(q_h, k_h, v_h, a_h, hw_shape))
                return merge_heads(self._attend_low_rank(q_h, k_h, v_h, a_h, hw_shape, drop))
            return merge_heads(self._attend_explicit(q_h, k_h, v_h, a_h, hw_shape))
        bias_agent, bias_token = self.position_biases(hw_shape, q_h.dtype)
        # Fused softmax(s·QKᵀ + bias)·V: several times faster on CPU than the explicit form, same result (in bf16
        # on a CPU without AMX, written out into persistent work buffers: workspace_attention.py).
        agent_v = scaled_dot_product_attention(a_h, k_h, v_h, attn_mask=bias_agent, dropout_p=drop, scale=self.scale)
        out = scaled_dot_product_attention(q_h, a_h, agent_v, attn_mask=bias_token, dropout_p=drop, scale=self.scale)
        return merge_heads(out)

    def _needs_grad(self, *inputs: torch.Tensor) -> bool:
        """Whether this call records a backward pass (a training step): PyTorch's fused attention then falls back
        to its explicit kernel for an additive bias that needs a gradient, so another form is used."""
        return torch.is_grad_enabled() and (any(t.requires_grad for t in inputs)
                                            or any(p.requires_grad for p in self._bias_params()))

    def _attend_low_rank(self, q_h: torch.Tensor, k_h: torch.Tensor, v_h: torch.Tensor, a_h: torch.Tensor,
                         hw_shape: Tuple[int, int], drop: float) -> torch.Tensor:
        """Training form when the agent grid is larger than the pretraining one (n' > n, every downstream
        config): the biases are resized along the agent axis by a fixed matrix R (n', n), so each is a rank-n
        product and folds into the attention's own dot product by appending n columns,

            s·A·Kᵀ + R·b₁ = s·[A, R/s]·[K, b₁ᵀ]ᵀ        s·Q·Aᵀ + b₂·Rᵀ = s·[Q, b₂]·[A, R/s]ᵀ,

        which PyTorch's fused attention runs *with* its backward (no bias tensor, no (N, n') bias or its
        gradient materialised, no resize backward). V is zero-padded to the same width; the agents' values then
        carry n zero columns, cropped at the end. (B, h, L, d) each -> (B, h, N, d)."""
        batch, heads, _, head_dims = q_h.shape
        resize, b1, b2 = self._bias_factors(hw_shape, q_h.dtype, q_h.device)  # fp32 / fp64 here
        agents = torch.cat([a_h, (resize / self.scale).expand(batch, heads, -1, -1)], dim=-1)
        keys = torch.cat([k_h, b1.transpose(1, 2).expand(batch, -1, -1, -1)], dim=-1)
        agent_v = F.scaled_dot_product_attention(agents, keys, F.pad(v_h, (0, self.agent_num)), dropout_p=drop,
                                                 scale=self.scale)
        queries = torch.cat([q_h, b2.expand(batch, -1, -1, -1)], dim=-1)
        out = F.scaled_dot_product_attention(queries, agents, agent_v, dropout_p=drop, scale=self.scale)
        return out[..., :head_dims]

    def _attend_blocked(self, q_h: torch.Tensor, k_h: torch.Tensor, v_h: torch.Tensor, a_h: torch.Tensor,
                        hw_shape: Tuple[int, int]) -> torch.Tensor:
        """Training form when the agent grid is larger than the pretraining one *and* the pretraining agent count
        n exceeds the head dim d (Agent-Swin's stage 3: n = 49, d = 32): there the column fold of
        :meth:`_attend_low_rank` would run every product of both attentions at width d + n, more than twice d.
        Instead both attentions run at width d through :func:`biased_attention`, which takes the resized biases
        as their factors, B₁ = R·b₁ (h, n', N) and B₂ = b₂·Rᵀ (h, N, n'), and forms them block by block, once
        per head for the whole batch. CPU only: its many small per-block calls are the wrong shape of work for a
        GPU, whose fused attention kernels take the fold. (B, h, L, d) each -> (B, h, N, d)."""
        resize, b1, b2 = self._bias_factors(hw_shape, q_h.dtype, q_h.device)
        agent_v = biased_attention(a_h, k_h, v_h, resize.unsqueeze(0), b1, self.scale)
        return biased_attention(q_h, a_h, agent_v, b2, resize.t().unsqueeze(0), self.scale)

    def _attend_explicit(self, q_h: torch.Tensor, k_h: torch.Tensor, v_h: torch.Tensor, a_h: torch.Tensor,
                         hw_shape: Tuple[int, int]) -> torch.Tensor:
        """Training form when the agent grid is the pretraining one, and under bf16 autocast: explicit softmax
        attention with the broadcast biases (cheaper than the fused kernel's own fallback, which adds masking
        passes), in bf16 on a CPU without AMX written out into persistent buffers (workspace_attention.py)."""
        if workspace_attention_preferred(a_h, k_h, v_h, dropout_p=self.attn_drop.p if self.training else 0.):
            # The biases as products with the fixed agent-axis resize, B₁ = R·b₁ and B₂ = b₂·Rᵀ: each comes out
            # in the layout its attention reads (no transposed copies), and their backward is two matmuls.
            resize, b1, b2 = self._bias_factors(hw_shape, q_h.dtype, q_h.device)
            agent_v = workspace_attention(a_h, k_h, v_h, self.scale, torch.matmul(resize, b1).unsqueeze(0))
            return workspace_attention(q_h, a_h, agent_v, self.scale, torch.matmul(b2, resize.t()).unsqueeze(0))
        bias_agent, bias_token = self._compute_biases(hw_shape)
        return self._softmax_attend(q_h, k_h, v_h, a_h, bias_agent.to(a_h.dtype), bias_token.to(q_h.dtype))

    def _softmax_attend(self, q_h: torch.Tensor, k_h: torch.Tensor, v_h: torch.Tensor, a_h: torch.Tensor,
                        bias_agent: torch.Tensor, bias_token: torch.Tensor) -> torch.Tensor:
        """The two attentions written out: softmax(s·Q·Aᵀ + B₂) · softmax(s·A·Kᵀ + B₁) · V, heads split."""
        agent_attn = self.attn_drop(torch.softmax((a_h * self.scale) @ k_h.transpose(-2, -1) + bias_agent, -1))
        agent_v = agent_attn @ v_h
        token_attn = self.attn_drop(torch.softmax((q_h * self.scale) @ a_h.transpose(-2, -1) + bias_token, -1))
        return token_attn @ agent_v

    def _naive_attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      hw_shape: Tuple[int, int]) -> torch.Tensor:
        """The official computation, literally: explicit softmax attention with the batch-repeated biases of
        :meth:`_naive_biases` and a channels-first pooling copy."""
        height, width = hw_shape
        batch, _, channels = q.shape
        agents = adaptive_avg_pool2d(q.transpose(1, 2).reshape(batch, channels, height, width),
                                       self.agent_shape).flatten(2).transpose(1, 2)
        bias_agent, bias_token = self._naive_biases(hw_shape, batch)
        heads = self.num_heads
        q_h, k_h, v_h, a_h = (split_heads(t, heads) for t in (q, k, v, agents))
        return merge_heads(self._softmax_attend(q_h, k_h, v_h, a_h, bias_agent, bias_token))


@register_model
class AgentAttention(QKVProjection, AgentAttentionCore):
    """Agent attention over a whole (H, W) feature map, as in Agent-Swin and Agent-PVT.

    Args:
        embed_dims: channels C.
        num_heads: heads h (C must be divisible by h).
        agent_num: pretraining agent count n = P² (9, 16, 49 in the released models); fixes the bias shapes.
        agent_shape: runtime agent grid (a_h, a_w); defaults to (P, P). The official downstream configs use
            larger grids, e.g. 9-12-14-7 for Agent-Swin.
        pretrain_hw: token grid R of this stage at the pretraining resolution (56, 28, 14, 7 at 224); fixes
            the length of ``ah/aw/ha/wa_bias``.
        qkv_bias: bias of the Q/K/V projections.
        qkv_layout: ``'qkv'`` (Swin) or ``'q_kv'`` (PVT).
        kernel_size: kernel of the depthwise conv on V.
        scale: softmax scale exponent: s = head_dim ** scale (-0.5 in every config). The official
            ``qk_scale`` argument was ignored there and is not accepted here.
        attn_drop: dropout on both attention maps.
        proj_drop: dropout after ``proj``.
        mode: ``'fast'`` broadcasts the resized biases over the batch and caches them at inference;
            ``'naive'`` is the official literal computation (both terms resized separately every forward and
            repeated over the batch), kept as a reference and benchmark baseline.

    Shapes: ``forward(x, hw_shape)`` with x (B, H·W, C) row-major and hw_shape (H, W) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 agent_num: int = 49,
                 agent_shape: Optional[IntPair] = None,
                 pretrain_hw: IntPair = 7,
                 qkv_bias: bool = True,
                 qkv_layout: str = 'qkv',
                 kernel_size: int = 3,
                 scale: float = -0.5,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 mode: str = 'fast',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, agent_num=agent_num, agent_shape=agent_shape, pretrain_hw=pretrain_hw,
                         scale=scale, attn_drop=attn_drop, mode=mode, init_cfg=init_cfg)
        self._build_projection(embed_dims, qkv_bias, qkv_layout)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dwc = nn.Conv2d(embed_dims, embed_dims, kernel_size, padding=kernel_size // 2, groups=embed_dims)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        height, width = hw_shape
        batch, n_tokens, channels = x.shape
        if n_tokens != height * width:
            raise ValueError(f'AgentAttention got {n_tokens} tokens for a {height}x{width} map')
        q, k, v = self._project(x)
        out = self.attend(q, k, v, (height, width))
        if self.mode == 'naive':  # the official channels-first copy of V
            dwc = self.dwc(v.transpose(1, 2).reshape(batch, channels, height, width)).flatten(2).transpose(1, 2)
        else:
            dwc = depthwise_conv_tokens(v, (height, width), self.dwc)
        return self.proj_drop(self.proj(out + dwc))
