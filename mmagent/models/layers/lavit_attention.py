"""LaViT attention ops as interpreted by mmagent (docs/design/lavit.md; **not** the published method).

* :class:`LaViTVanillaAttention` (VA layer): queries from every token, keys/values from the feature map
  adaptive-average-pooled to a fixed P×P grid ; hands its pre-softmax logits on.
* :class:`LaViTLessAttention` (LA layer): no Q/K projection. It transforms the carried logits with Θ
  (a linear map over the key axis) and Ψ (a depthwise conv over the query grid, resolution-free in place of
  the paper's dense N×N map), both identity-initialised, and attends to values from the pooled tokens.
* :class:`ResidualAttentionDownsample` (RAD): carries the last logits of stage m−1 onto stage m's grid
  and head count; the result is added to the logits of stage m's first VA layer.

Every attention matrix has the shape (B, heads, N, n): N = H·W query tokens of the stage, n = P² key slots.
Key slots are the cells of a P×P grid over the whole image at every stage, so they are aligned across
stages and the key axis never needs resampling.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_model
from .base import AttentionOp
from .common import init_linear_trunc_normal, merge_heads, pool_tokens_to_grid, resize_grid, split_heads
from .export import capturing_graph

__all__ = [
    'pool_tokens', 'logits_to_query_grid', 'query_grid_to_logits', 'heads_inner_scores', 'KeyAxisLinear',
    'LaViTVanillaAttention', 'LaViTLessAttention', 'ResidualAttentionDownsample'
]

AttentionOutput = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def pool_tokens(x: torch.Tensor, hw_shape: Tuple[int, int], pool_size: int) -> torch.Tensor:
    """Adaptive-average-pool a token map to a fixed grid: (B, H·W, C) -> (B, P², C), cells row-major.

    Grids smaller than P are upsampled by the same adaptive windows (each cell averages >= 1 token).
    """
    n, (h, w) = x.shape[1], hw_shape
    if n != h * w:
        raise ValueError(f'pool_tokens: {n} tokens do not form the grid {h}x{w}')
    return pool_tokens_to_grid(x, hw_shape, (pool_size, pool_size))


def logits_to_query_grid(logits: torch.Tensor, hw_shape: Tuple[int, int], per_key_channels: bool) -> torch.Tensor:
    """Lay the query axis of (B, h, N, n) logits out as an image.

    ``per_key_channels=False``: (B·n, h, H, W), one image per key slot with the heads as channels (Ψ with
    groups = h shares a kernel across key slots). ``True``: (B, h·n, H, W), channel = head·n + key.
    """
    b, heads, n_q, n_k = logits.shape
    h, w = hw_shape
    if n_q != h * w:
        raise ValueError(f'attention logits have {n_q} queries, which do not form the grid {h}x{w}')
    if per_key_channels:
        return logits.permute(0, 1, 3, 2).reshape(b, heads * n_k, h, w)
    return logits.permute(0, 3, 1, 2).reshape(b * n_k, heads, h, w)


def query_grid_to_logits(grid: torch.Tensor, batch: int, heads: int, num_keys: int,
                         per_key_channels: bool) -> torch.Tensor:
    """Inverse of :func:`logits_to_query_grid` (for any grid size): -> (B, h, H·W, n)."""
    n_q = grid.shape[-2] * grid.shape[-1]
    if per_key_channels:
        return grid.reshape(batch, heads, num_keys, n_q).permute(0, 1, 3, 2)
    return grid.reshape(batch, num_keys, heads, n_q).permute(0, 2, 3, 1)


def heads_inner_scores(q: torch.Tensor, k_t: torch.Tensor) -> torch.Tensor:
    """q (B, h, N, d) @ k_t (B, h, d, n), returned laid out (B, N, h, n) in memory ("heads inner").

    Without autograd each image's product is written straight into that layout (a strided batched GEMM, no
    copy); with autograd (``out=`` is not differentiable), under a tracer (the FLOPs counter, ONNX export) or
    under ``torch.compile`` (which cannot write into a strided view) the (B, h, N, n) product is copied once.
    """
    b, heads, n_q, _ = q.shape
    if (capturing_graph() or torch.jit.is_tracing()
            or (torch.is_grad_enabled() and (q.requires_grad or k_t.requires_grad))):
        return (q @ k_t).transpose(1, 2).contiguous()
    out = q.new_empty(b, n_q, heads, k_t.shape[-1])
    for i in range(b):  # one call per image: torch only writes a batched matmul in place for one batch dim
        torch.matmul(q[i], k_t[i], out=out[i].transpose(0, 1))
    return out


class KeyAxisLinear(nn.Module):
    """Θ: an affine map over the key axis of (B, h, N, n) logits, shared by all heads or one per head.

    Parameters ``weight`` ((n, n) or (h, n, n)) and ``bias`` ((n,) or (h, n)). Kept apart from ``nn.Linear``
    so that the backbones' generic truncated-normal Linear init never touches it.
    """

    def __init__(self, num_keys: int, num_heads: int, per_head: bool, init: str = 'identity') -> None:
        super().__init__()
        if init not in ('identity', 'trunc_normal'):
            raise ValueError(f"theta_init must be 'identity' or 'trunc_normal', got {init!r}")
        self.num_keys = num_keys
        self.per_head = per_head
        self.init = init
        lead = (num_heads, ) if per_head else ()
        self.weight = nn.Parameter(torch.empty(*lead, num_keys, num_keys))
        self.bias = nn.Parameter(torch.empty(*lead, num_keys))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            if self.init == 'identity':
                self.weight.copy_(torch.eye(self.num_keys).expand_as(self.weight))
            else:
                nn.init.trunc_normal_(self.weight, std=.02)
            self.bias.zero_()

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.per_head:
            return F.linear(logits, self.weight, self.bias)
        return torch.einsum('bhqk,hjk->bhqj', logits, self.weight) + self.bias[None, :, None, :]

    def extra_repr(self) -> str:
        return f'num_keys={self.num_keys}, per_head={self.per_head}, init={self.init!r}'


class _PooledAttentionBase(AttentionOp):
    """Shared by VA and LA: pooled tokens (+ ``kv_norm``), heads, softmax, dropout, output projection."""

    modes = ('fast', 'naive')

    def __init__(self, embed_dims: int, num_heads: int, pool_size: int, kv_norm: bool, attn_drop: float,
                 proj_drop: float, mode: str) -> None:
        super().__init__(embed_dims, num_heads, mode=mode)
        if pool_size < 1:
            raise ValueError(f'pool_size must be >= 1, got {pool_size}')
        self.pool_size = pool_size
        self.num_keys = pool_size * pool_size
        self.kv_norm = nn.LayerNorm(embed_dims) if kv_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def pooled(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        return self.kv_norm(pool_tokens(x, hw_shape, self.pool_size))

    def attend(self, logits: torch.Tensor, v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Literal form: (B, h, N, n) logits, v (B, h, n, d) -> proj(merge_heads(softmax · v)), probs."""
        probs = logits.softmax(dim=-1)
        out = merge_heads(self.attn_drop(probs) @ v)
        return self.proj_drop(self.proj(out)), probs

    def attend_heads_inner(self, logits: torch.Tensor, v: torch.Tensor) -> AttentionOutput:
        """Fast form on logits laid out (B, N, h, n) in memory: softmax over the contiguous key axis, then the
        output projection folded into the values (:meth:`project_pooled_values`), reading the probabilities in
        place. Returns ``(out, logits, probs)`` with both attentions as (B, h, N, n) views of that layout."""
        batch, n_q, heads, n_k = logits.shape
        probs = logits.softmax(dim=-1)
        flat = self.attn_drop(probs).view(batch, n_q, heads * n_k)
        out = self.proj_drop(self.project_pooled_values(flat, v))
        return out, logits.transpose(1, 2), probs.transpose(1, 2)

    def project_pooled_values(self, flat_probs: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``proj(merge_heads(probs @ v))`` computed as Σ_h probs_h · (v_h W_hᵀ) + b (exact re-association).

        The values live on the n pooled tokens, so projecting them first costs n·C² instead of N·C² for the
        query tokens, and the head merge disappears: one GEMM over (head, key slot),
        flat_probs (B, N, h·n) @ (B, h·n, C_out), with v (B, h, n, d) -> (B, N, C_out). It costs N·h·n·C MACs
        against N·n·C + N·C² for attention-then-projection: fewer whenever d > n − n/h (always for d ≥ n).
        """
        batch, heads, n_keys, head_dims = v.shape
        weight = self.proj.weight.view(-1, heads, head_dims)  # (C_out, h, d)
        projected = torch.einsum('bhnd,chd->bhnc', v, weight).reshape(batch, heads * n_keys, -1)
        return torch.baddbmm(self.proj.bias.to(projected.dtype), flat_probs, projected)


@register_model
class LaViTVanillaAttention(_PooledAttentionBase):
    """VA layer attention: Q from all tokens, [K | V] from the P×P pooled tokens.

    Args:
        embed_dims: channels C.
        num_heads: heads h (head dim d = C / h).
        pool_size: side P of the pooled key grid; n = P² key slots.
        kv_norm: LayerNorm on the pooled tokens (``LN_kv``).
        qkv_bias: biases of ``q`` and ``kv``.
        attn_drop, proj_drop: dropout rates.
        mode: ``'fast'`` (the scale applied to the n pooled keys, Q·Kᵀ written straight into the heads-inner
            layout, the output projection folded into the values; see :meth:`attend_heads_inner`) or
            ``'naive'`` (the literal computation of docs/design/lavit.md, the reference). Same results up to fp32 rounding.

    ``forward(x, hw_shape, residual=None)``: x (B, N, C) with N = H·W (already LayerNorm-ed by the block);
    ``residual`` optional (B, h, N, n) logits added before the softmax (RAD). Returns
    ``(out (B, N, C), logits (B, h, N, n) pre-softmax, probs (B, h, N, n) = softmax(logits))``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 pool_size: int = 7,
                 kv_norm: bool = True,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 mode: str = 'fast') -> None:
        super().__init__(embed_dims, num_heads, pool_size, kv_norm, attn_drop, proj_drop, mode)
        self.scale = (embed_dims // num_heads)**-0.5
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        init_linear_trunc_normal(self)

    def forward(self,
                x: torch.Tensor,
                hw_shape: Tuple[int, int],
                residual: Optional[torch.Tensor] = None) -> AttentionOutput:
        b, n_q, c = x.shape
        heads, n_k = self.num_heads, self.num_keys
        if residual is not None and tuple(residual.shape) != (b, heads, n_q, n_k):
            raise ValueError(f'residual attention of shape {tuple(residual.shape)} does not match the logits '
                             f'{(b, heads, n_q, n_k)}')
        kv = self.kv(self.pooled(x, hw_shape)).reshape(b, n_k, 2, c)
        k, v = (split_heads(kv[:, :, i], heads) for i in range(2))
        if self.mode == 'naive':
            logits = (split_heads(self.q(x), heads) * self.scale) @ k.transpose(-2, -1)
            if residual is not None:
                logits = logits + residual
            out, probs = self.attend(logits, v)
            return out, logits, probs
        q = self.q(x).view(b, n_q, heads, -1).transpose(1, 2)  # (B, h, N, d), a view
        logits = heads_inner_scores(q, (k * self.scale).transpose(-2, -1))
        if residual is not None:
            logits.add_(residual.transpose(1, 2))  # in place: keeps the heads-inner layout (the product is fresh)
        return self.attend_heads_inner(logits, v)


@register_model
class LaViTLessAttention(_PooledAttentionBase):
    """LA layer attention: reuses the carried logits instead of computing Q·Kᵀ.

    A = Ψ(Θ(L_prev)): Θ mixes the key axis (Linear n→n), Ψ is a depthwise k×k conv over the query grid
    (one kernel per head, shared by key slots; or per (head, key slot)). Both start as the identity, so a
    fresh layer attends exactly as the layer before it. Values come from ``v`` on the pooled tokens.

    Args:
        embed_dims, num_heads, pool_size, kv_norm, attn_drop, proj_drop: as in :class:`LaViTVanillaAttention`.
        v_bias: bias of ``v``.
        theta: ``'shared'`` (weight (n, n)), ``'per_head'`` ((h, n, n)) or ``'none'``.
        theta_init: ``'identity'`` or ``'trunc_normal'`` (std 0.02, bias 0).
        psi: ``'dwconv'`` or ``'none'``.
        psi_kernel: odd kernel size k of Ψ.
        psi_groups: ``'head'`` (weight (h, 1, k, k)) or ``'head_key'`` ((h·n, 1, k, k)).
        mode: ``'fast'`` (heads-inner layout, Θ and Ψ as convs on it, the output projection folded into the
            values; see :meth:`_forward_heads_inner`) or ``'naive'`` (the literal computation of
            docs/design/lavit.md, the reference).

    ``forward(x, hw_shape, prev_logits)``: x (B, N, C), prev_logits (B, h, N, n). Returns
    ``(out (B, N, C), logits A (B, h, N, n) pre-softmax, probs softmax(A))``.
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 pool_size: int = 7,
                 kv_norm: bool = True,
                 v_bias: bool = True,
                 theta: str = 'shared',
                 theta_init: str = 'identity',
                 psi: str = 'dwconv',
                 psi_kernel: int = 3,
                 psi_groups: str = 'head',
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 mode: str = 'fast') -> None:
        super().__init__(embed_dims, num_heads, pool_size, kv_norm, attn_drop, proj_drop, mode)
        if theta not in ('shared', 'per_head', 'none'):
            raise ValueError(f"theta must be 'shared', 'per_head' or 'none', got {theta!r}")
        if psi not in ('dwconv', 'none'):
            raise ValueError(f"psi must be 'dwconv' or 'none', got {psi!r}")
        if psi_groups not in ('head', 'head_key'):
            raise ValueError(f"psi_groups must be 'head' or 'head_key', got {psi_groups!r}")
        if psi_kernel < 1 or psi_kernel % 2 == 0:
            raise ValueError(f'psi_kernel must be a positive odd int (same-size conv), got {psi_kernel}')
        self.v = nn.Linear(embed_dims, embed_dims, bias=v_bias)
        self.theta = None if theta == 'none' else KeyAxisLinear(self.num_keys, num_heads, theta == 'per_head',
                                                                theta_init)
        self.psi_per_key = psi_groups == 'head_key'
        self.psi = None
        if psi == 'dwconv':
            channels = num_heads * self.num_keys if self.psi_per_key else num_heads
            self.psi = nn.Conv2d(channels, channels, psi_kernel, padding=psi_kernel // 2, groups=channels)
        self.kernel_cache = self.new_derived_cache(max_entries=1)
        init_linear_trunc_normal(self)  # v, proj (Θ is not an nn.Linear)
        self.reset_reuse_parameters()

    def reset_reuse_parameters(self) -> None:
        """Θ to its configured init, Ψ to the identity (centre tap 1, other taps and bias 0)."""
        if self.theta is not None:
            self.theta.reset_parameters()
        if self.psi is not None:
            with torch.no_grad():
                self.psi.weight.zero_()
                k = self.psi.kernel_size[0]
                self.psi.weight[:, :, k // 2, k // 2] = 1.
                self.psi.bias.zero_()

    def transform(self, prev_logits: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """A = Ψ(Θ(prev_logits)), (B, h, N, n) -> (B, h, N, n), literal form."""
        logits = prev_logits if self.theta is None else self.theta(prev_logits)
        if self.psi is None:
            return logits
        batch, heads, _, n_k = logits.shape
        grid = self.psi(logits_to_query_grid(logits, hw_shape, self.psi_per_key))
        return query_grid_to_logits(grid, batch, heads, n_k, self.psi_per_key)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int], prev_logits: torch.Tensor) -> AttentionOutput:
        b, n_q, _ = x.shape
        expected = (b, self.num_heads, n_q, self.num_keys)
        if prev_logits is None or tuple(prev_logits.shape) != expected:
            got = None if prev_logits is None else tuple(prev_logits.shape)
            raise ValueError(f'LaViTLessAttention needs the previous layer\'s attention of shape (B, heads, N, '
                             f'n) = {expected}, got {got}: an LA layer must follow a VA or LA layer of the same '
                             f'stage (same heads and pool_size)')
        v = split_heads(self.v(self.pooled(x, hw_shape)), self.num_heads)
        if self.mode == 'naive':
            logits = self.transform(prev_logits, hw_shape)
            out, probs = self.attend(logits, v)
            return out, logits, probs
        return self._forward_heads_inner(prev_logits, v, hw_shape)

    def _forward_heads_inner(self, prev_logits: torch.Tensor, v: torch.Tensor,
                             hw_shape: Tuple[int, int]) -> AttentionOutput:
        """The fast path. It works on the logits laid out as (B, N, h, n) in memory ("heads inner") and
        returns them as a (B, h, N, n) view of that memory, so a chain of LA layers never copies them:

        * (B, N, h·n) *is* a channels-last (B, h·n, H, W) map: Θ is a grouped 1x1 conv on it (one n -> n
          group per head) and Ψ one depthwise conv over all h·n channels;
        * softmax and the folded output projection as in the VA layer (:meth:`attend_heads_inner`).

        Logits that are not in that layout (a naive-mode VA layer's, a caller's) are copied once, on entry.
        """
        batch, n_q = prev_logits.shape[0], prev_logits.shape[2]
        heads, n_k = self.num_heads, self.num_keys
        logits = prev_logits.transpose(1, 2).contiguous()  # (B, N, h, n); free after a fast VA or LA layer
        sources = [p for m in (self.theta, self.psi) if m is not None for p in m.parameters()]
        theta, psi = self.kernel_cache.get(self, 'kernels', sources, self._conv_kernels)
        if theta is not None or psi is not None:
            # (B, N, h·n) memory is a channels-last (B, h·n, H, W) map: both transforms are convs on it (oneDNN
            # runs them on this layout directly, and beats a GEMM with 49-wide operands).
            maps = logits.view(batch, *hw_shape, heads * n_k).permute(0, 3, 1, 2)
            if theta is not None:
                maps = F.conv2d(maps, *theta, groups=heads)
            if psi is not None:
                maps = F.conv2d(maps, *psi, padding=self.psi.padding, groups=heads * n_k)
            logits = maps.permute(0, 2, 3, 1).reshape(batch, n_q, heads, n_k)
        return self.attend_heads_inner(logits, v)

    def _conv_kernels(self) -> Tuple[Optional[Tuple[torch.Tensor, torch.Tensor]], ...]:
        """(weight, bias) of Θ as a 1x1 conv with one n -> n group per head, and of Ψ as a depthwise conv over
        the h·n channels (channel head·n + key), or None where the transform is off. Cached at inference."""
        heads, n_k = self.num_heads, self.num_keys
        theta = psi = None
        if self.theta is not None:
            weight, bias = self.theta.weight.reshape(-1, n_k, 1, 1), self.theta.bias.reshape(-1)
            theta = (weight, bias) if self.theta.per_head else (weight.repeat(heads, 1, 1, 1), bias.repeat(heads))
        if self.psi is not None:
            weight, bias = self.psi.weight, self.psi.bias
            if not self.psi_per_key:
                weight, bias = weight.repeat_interleave(n_k, 0), bias.repeat_interleave(n_k)
            psi = (weight, bias)
        return theta, psi


@register_model
class ResidualAttentionDownsample(nn.Module):
    """RAD: stage m−1's last attention -> a residual for stage m's first VA logits.

    (B, h_prev, N_prev, n) is laid out as (B·n, h_prev, H_prev, W_prev), passed through a strided depthwise
    conv mirroring the patch embedding (init: average pooling), resized bilinearly if the grid still differs
    from stage m's, then its heads are mixed to h (a Linear h_prev→h initialised to replication, or fixed
    replication), optionally scaled by a learnable per-head gate.

    Args:
        prev_heads: heads of stage m−1.
        heads: heads of stage m.
        kernel_size, stride, padding: geometry of the depthwise conv (3/2/1 for the overlapping patch
            embedding, 2/2/0 for the non-overlapping one).
        head_mix: ``'linear'`` or ``'repeat'``.
        gate: None (plain addition) or the initial value of a per-head gate.

    ``forward(prev_logits, prev_hw, hw)`` -> (B, heads, H·W, n).
    """

    def __init__(self,
                 prev_heads: int,
                 heads: int,
                 kernel_size: int = 3,
                 stride: int = 2,
                 padding: int = 1,
                 head_mix: str = 'linear',
                 gate: Optional[float] = None) -> None:
        super().__init__()
        if head_mix not in ('linear', 'repeat'):
            raise ValueError(f"rad_head_mix must be 'linear' or 'repeat', got {head_mix!r}")
        self.prev_heads = prev_heads
        self.heads = heads
        self.dwconv = nn.Conv2d(prev_heads, prev_heads, kernel_size, stride, padding, groups=prev_heads)
        self.head_mix = nn.Linear(prev_heads, heads) if head_mix == 'linear' else None
        self.register_buffer('source_head', torch.arange(heads) * prev_heads // heads, persistent=False)
        self.gate = None if gate is None else nn.Parameter(torch.full((heads, ), float(gate)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Conv = average pooling; head mix = replication (new head j copies old head ⌊j·h_prev/h⌋)."""
        with torch.no_grad():
            self.dwconv.weight.fill_(1. / self.dwconv.weight[0].numel())
            self.dwconv.bias.zero_()
            if self.head_mix is not None:
                self.head_mix.weight.zero_()
                self.head_mix.weight[torch.arange(self.heads), self.source_head] = 1.
                self.head_mix.bias.zero_()

    def forward(self, prev_logits: torch.Tensor, prev_hw: Tuple[int, int], hw_shape: Tuple[int, int]) -> torch.Tensor:
        b, prev_heads, _, n_k = prev_logits.shape
        if prev_heads != self.prev_heads:
            raise ValueError(f'RAD expects {self.prev_heads} heads from the previous stage, got {prev_heads}')
        grid = resize_grid(self.dwconv(logits_to_query_grid(prev_logits, prev_hw, False)), tuple(hw_shape))
        # (B·n, h_prev, H, W) -> (B, n, H·W, h_prev): heads last for the head-mixing Linear.
        grid = grid.reshape(b, n_k, prev_heads, -1).transpose(2, 3)
        grid = self.head_mix(grid) if self.head_mix is not None else grid[..., self.source_head]
        residual = grid.permute(0, 3, 2, 1)  # (B, heads, H·W, n)
        if self.gate is not None:
            residual = residual * self.gate[None, :, None, None]
        return residual
