"""Focused linear attention (FLatten, Han et al., ICCV 2023); design notes: docs/design/flatten_attention.md.

    φ_p(t) = t₃ · ‖t₂‖ / ‖t₃‖,   t₂ = (ReLU(t) + 1e-6) / softplus(s),   t₃ = t₂^p   (norms over all C)
    O_h    = (φ(Q_h) · M) ⊙ z,   M = (φ(K_h)/√N)ᵀ (V_h/√N),   z = 1 / (φ(Q_h) · mean_n φ(K_h)ᵀ + 1e-6)
    Y      = proj(O + DWC(V))    (DWC: depthwise k×k conv on each head's V map, weights shared by heads)

K gets a learned positional encoding stored at the 224-input grid of the stage and resized (bicubic by
default) to the actual (H, W): unlike the official models, this op runs at any resolution, globally.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from ...registry import register_model
from .base import AttentionOp
from .common import (IntPair, QKVProjection, depthwise_conv_tokens, init_linear_trunc_normal, merge_heads,
                     resize_token_embedding, split_heads, to_2tuple)
from .export import capturing_graph

__all__ = ['FocusedLinearCore', 'FocusedLinearAttention', 'focusing_function', 'FocusingFunction']

FP32Attention = Union[bool, str]  # 'fp16', True or False: see FocusedLinearCore


def focusing_function(t: torch.Tensor, divisor: torch.Tensor, power: float,
                      hand_backward: bool = True) -> torch.Tensor:
    """φ_p over the last axis: ReLU + 1e-6, divide by ``divisor``, element-wise power, norm restored.

    Written as (ReLU(t) + ε) / s = ReLU(t)·(1/s) + ε/s and t³·(‖t‖ / ‖t³‖) so that every full-size tensor
    is touched as few times as possible (this runs on the whole Q and K maps). When a backward will follow and
    ``hand_backward`` is set, :class:`FocusingFunction` computes the same values with a hand-derived backward;
    otherwise autograd differentiates the composite.
    """
    if (hand_backward and torch.is_grad_enabled() and (t.requires_grad or divisor.requires_grad)
            and not capturing_graph()):
        return FocusingFunction.apply(t, divisor, power)
    inverse = divisor.reciprocal()
    t = torch.addcmul(inverse * 1e-6, F.relu(t), inverse)
    norm = torch.linalg.vector_norm(t, dim=-1, keepdim=True)
    t = t ** power
    return t * (norm / torch.linalg.vector_norm(t, dim=-1, keepdim=True))


def _shifted_input(t: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """u = (ReLU(t) + ε) · inverse, in one new tensor."""
    return t.clamp_min(0).mul_(inverse).add_(inverse * 1e-6)


class FocusingFunction(torch.autograd.Function):
    """φ_p of :func:`focusing_function` with its backward written out, for training steps.

    Autograd's graph of the composite keeps three full-size intermediates per call (ReLU(t), u, u^p) and runs
    about twenty element-wise passes backward, most of them into newly allocated tensors (on the CPU a fresh
    large tensor costs several times its arithmetic in page faults). This keeps only the input and φ (which
    the attention keeps anyway), recomputes u = (ReLU(t) + ε)/s backward (s: ``divisor``) and works in place.
    With r = ‖u‖/‖u^p‖, φ = r·u^p and S = Σ_c g·φ per token, the gradient of the loss for u is

        ∂L/∂u = p·u^(p−1)·(r·g − S·φ / (‖u‖·‖u^p‖)) + S·u / ‖u‖²

    then ∂L/∂t = ∂L/∂u / s where t > 0 (else 0), and ∂L/∂s = −Σ_tokens ∂L/∂u · u / s per channel.
    Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, t: torch.Tensor, divisor: torch.Tensor, power: float) -> torch.Tensor:
        inverse = divisor.reciprocal()
        u = _shifted_input(t, inverse)
        norm_u = torch.linalg.vector_norm(u, dim=-1, keepdim=True)
        phi = u.pow_(power)
        norm_w = torch.linalg.vector_norm(phi, dim=-1, keepdim=True)
        phi.mul_(norm_u / norm_w)
        ctx.power = power
        ctx.save_for_backward(t, inverse, phi, norm_u, norm_w)
        return phi

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_phi: torch.Tensor):
        t, inverse, phi, norm_u, norm_w = ctx.saved_tensors
        power = ctx.power
        grad_phi = grad_phi.contiguous()
        u = _shifted_input(t, inverse)
        # S per token as a batch of (1, C)·(C, 1) products: no full-size temporary
        s = torch.matmul(grad_phi.unsqueeze(-2), phi.unsqueeze(-1)).squeeze(-1)
        grad = grad_phi * (power * norm_u / norm_w)
        grad.addcmul_(phi, s * (-power) / (norm_u * norm_w))
        if power == 3:
            grad.mul_(u).mul_(u)
        else:
            grad.mul_(u ** (power - 1))
        grad.addcmul_(u, s / (norm_u * norm_u))
        grad_divisor = None
        if ctx.needs_input_grad[1]:
            per_channel = u.mul_(grad).sum(dim=tuple(range(u.dim() - 1)), keepdim=True)
            grad_divisor = (-per_channel * inverse).sum_to_size(inverse.shape)
        grad_t = None
        if ctx.needs_input_grad[0]:
            grad.mul_(inverse)
            grad_t = torch.ops.aten.threshold_backward.grad_input(grad, t, 0, grad_input=grad)
        return grad_t, grad_divisor, None


class FocusedLinearCore(AttentionOp):
    """The focused linear attention of projected Q, K, V, with the key positional encoding and the DWC term on
    V (no projections): what FLatten's hosts share. :class:`FocusedLinearAttention` (Swin, PVT, PVTv2) and the
    CSwin branch add their own projections around it.

    Args:
        embed_dims, num_heads: channels C and heads h of the Q/K/V it receives; the DWC has C / h channels
            shared by all heads.
        pretrain_hw: grid (S0, S0) of the stored ``positional_encoding`` (the stage grid at 224).
        focusing_factor: power p (3 in every released model).
        kernel_size: DWC kernel (5).
        pe_interp: ``'bicubic'`` (default, the official load-time resize) or ``'bilinear'``.
        fp32_attention: which half-precision inputs φ, z and M are computed from in fp32 with autocast
            disabled: ``'fp16'`` (default; fp16's range overflows in t^p and the sums over N, the official form
            did), ``True`` (fp16 and bf16), ``False`` (none). bf16 has fp32's exponent range, so by default it
            runs natively, its products accumulated in fp32 by the matmul kernels. float64 stays float64.
        mode: ``'fast'`` caches the resized encoding at inference; ``'naive'`` recomputes everything each
            forward in the input dtype, as the official code does.

    Shapes: ``attend(q, k, v, hw_shape)``: three (B, H·W, C) -> (B, H·W, C).
    """

    modes = ('fast', 'naive')

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
        super().__init__(embed_dims, num_heads, mode=mode, init_cfg=init_cfg)
        if fp32_attention not in (True, False, 'fp16'):
            raise ValueError(f"fp32_attention must be 'fp16', True or False, got {fp32_attention!r}")
        if pe_interp not in ('bicubic', 'bilinear'):
            raise ValueError(f"pe_interp must be 'bicubic' or 'bilinear', got {pe_interp!r}")
        self.pretrain_hw = to_2tuple(pretrain_hw, 'pretrain_hw')
        self.focusing_factor = focusing_factor
        self.pe_interp = pe_interp
        self.fp32_attention = fp32_attention
        self.dwc = nn.Conv2d(self.head_dims, self.head_dims, kernel_size, padding=kernel_size // 2,
                             groups=self.head_dims)
        self.scale = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.positional_encoding = nn.Parameter(torch.zeros(1, math.prod(self.pretrain_hw), embed_dims))
        self.pe_cache = self.new_derived_cache()

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, p={self.focusing_factor}, '
                f'pretrain_hw={self.pretrain_hw}, mode={self.mode!r}')

    def positional_encoding_at(self, hw_shape: Tuple[int, int], dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """The key positional encoding resized to (H, W), in ``dtype`` (default: the parameter's): (1, H·W, C).
        Untouched at the stored grid; cached per size and dtype at inference."""
        hw_shape = tuple(hw_shape)
        dtype = dtype or self.positional_encoding.dtype
        if not capturing_graph() and hw_shape == self.pretrain_hw:
            return self.positional_encoding.to(dtype)

        def compute():
            return resize_token_embedding(self.positional_encoding, self.pretrain_hw, hw_shape, self.pe_interp).to(dtype)

        if self.mode == 'naive':
            return compute()
        return self.pe_cache.get(self, (hw_shape, dtype), (self.positional_encoding, ), compute)

    def _computes_in_fp32(self, dtype: torch.dtype) -> bool:
        if self.mode != 'fast' or dtype not in (torch.float16, torch.bfloat16):
            return False
        return self.fp32_attention is True or (self.fp32_attention == 'fp16' and dtype == torch.float16)

    def _linear_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """φ-mapped, mean / N^-1/2 scaled linear attention (K^T V first). Inputs (B, N, C)."""
        divisor = F.softplus(self.scale.to(q.dtype))
        hand_backward = self.mode == 'fast'
        q = focusing_function(q, divisor, self.focusing_factor, hand_backward)
        k = focusing_function(k, divisor, self.focusing_factor, hand_backward)
        if self.mode == 'naive' or q.dtype == torch.float16:
            return self._linear_attention_split_heads(q, k, v)
        return self._linear_attention_per_head(q, k, v)

    def _linear_attention_split_heads(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The head-split form: φ(Q), φ(K), V as (B, h, N, d) ('naive' mode, and fp16 with its pre-scaled KᵀV)."""
        n_tokens = k.shape[1]
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))
        z = 1 / (q @ k.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
        if q.dtype != torch.float16:  # KᵀV / N: one scalar instead of scaling K and V (bf16 has fp32's range)
            kv = (k.transpose(-2, -1) @ v) * (1. / n_tokens)
        else:  # fp16: scale by N^-1/2 before the product so that it cannot overflow
            kv = (k.transpose(-2, -1) * n_tokens ** -0.5) @ (v * n_tokens ** -0.5)
        return merge_heads(q @ kv * z)

    def _linear_attention_per_head(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The same, head by head on channel slices of the (B, N, C) maps: ``bmm`` takes the strided slices as
        they are, so no (B, h, N, d) copy of φ(Q), φ(K) or V is made (or kept for the backward), and the
        normaliser rides in the φ(Q)·M product as one more column: φ(Q)·[M | mean φ(K)ᵀ] (the head-split form
        copied φ(Q) twice, once for z and once for φ(Q)·M). fp32, bf16 and fp64."""
        n_tokens = k.shape[1]
        head_dims = self.head_dims
        outs = []
        for q_h, k_h, v_h in zip(q.split(head_dims, -1), k.split(head_dims, -1), v.split(head_dims, -1)):
            kv = torch.bmm(k_h.transpose(1, 2), v_h) * (1. / n_tokens)  # (B, d, d)
            k_mean = k_h.mean(dim=1, keepdim=True).transpose(1, 2)  # (B, d, 1)
            out, normaliser = torch.bmm(q_h, torch.cat([kv, k_mean], dim=-1)).split([head_dims, 1], dim=-1)
            outs.append(out * (1 / (normaliser + 1e-6)))
        return torch.cat(outs, dim=-1)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """O + DWC(V), with K shifted by the positional encoding at (H, W)."""
        height, width = hw_shape
        batch, n_tokens, channels = v.shape
        in_fp32 = self._computes_in_fp32(v.dtype)
        # a natively computed bf16 K takes the encoding in bf16: an fp32 one would promote K and every pass of φ
        k = k + self.positional_encoding_at((height, width), None if in_fp32 or self.mode == 'naive' else k.dtype)
        if in_fp32:
            with torch.autocast(device_type=v.device.type, enabled=False):
                out = self._linear_attention(q.float(), k.float(), v.float()).to(v.dtype)
        else:
            out = self._linear_attention(q, k, v)

        if self.mode == 'naive':  # the official layout: each head's V map as (B·h, d, H, W)
            h, d = self.num_heads, self.head_dims
            v_maps = v.reshape(batch, height, width, h, d).permute(0, 3, 4, 1, 2).reshape(batch * h, d, height, width)
            dwc = self.dwc(v_maps).reshape(batch, channels, n_tokens).transpose(1, 2)
        else:  # the same conv over all C channels, its d-channel kernel repeated for every head
            dwc = depthwise_conv_tokens(v, (height, width), self.dwc, channel_repeats=self.num_heads)
        return out + dwc


@register_model
class FocusedLinearAttention(QKVProjection, FocusedLinearCore):
    """Global focused linear attention over an (H, W) map (FLatten-Swin, FLatten-PVT, FLatten-PVTv2).

    Args:
        embed_dims: channels C.
        num_heads: heads h; the DWC has C / h channels shared by all heads.
        pretrain_hw: grid (S0, S0) of the stored ``positional_encoding`` (the stage grid at 224).
        qkv_bias: bias of the Q/K/V projections.
        qkv_layout: ``'qkv'`` (Swin) or ``'q_kv'`` (PVT).
        focusing_factor, kernel_size, pe_interp, fp32_attention, mode: see :class:`FocusedLinearCore`.
        proj_drop: dropout after ``proj``.

    Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 pretrain_hw: IntPair = 56,
                 qkv_bias: bool = True,
                 qkv_layout: str = 'qkv',
                 focusing_factor: float = 3,
                 kernel_size: int = 5,
                 pe_interp: str = 'bicubic',
                 fp32_attention: FP32Attention = 'fp16',
                 proj_drop: float = 0.,
                 mode: str = 'fast',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, pretrain_hw=pretrain_hw, focusing_factor=focusing_factor,
                         kernel_size=kernel_size, pe_interp=pe_interp, fp32_attention=fp32_attention, mode=mode,
                         init_cfg=init_cfg)
        self._build_projection(embed_dims, qkv_bias, qkv_layout)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        height, width = hw_shape
        n_tokens = x.shape[1]
        if n_tokens != height * width:
            raise ValueError(f'FocusedLinearAttention got {n_tokens} tokens for a {height}x{width} map')
        q, k, v = self._project(x)
        return self.proj_drop(self.proj(self.attend(q, k, v, (height, width))))
