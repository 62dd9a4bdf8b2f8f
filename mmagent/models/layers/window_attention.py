"""Swin's (shifted) window attention, the host attention of the Swin skeleton. Parameter names follow the
official checkpoints (``qkv``, ``proj``, ``relative_position_bias_table``, ``relative_position_index``)."""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_model
from .base import AttentionOp
from .common import init_linear_trunc_normal, merge_heads, split_heads
from .export import capturing_graph

__all__ = ['ShiftedWindowAttention', 'shift_mask', 'SHIFT_MASK_CACHE_SIZE']

# Shift masks depend only on (padded size, window, shift, device): one least-recently-used cache for the whole
# process, shared by every shifted block. Multi-scale training sees a new padded size per image (a mask can be
# ~13 MB at 1344x800), so the cache is bounded: 16 entries hold the four stages of the last few sizes.
SHIFT_MASK_CACHE_SIZE = 16
_SHIFT_MASKS: 'OrderedDict[Tuple, torch.Tensor]' = OrderedDict()


def shift_mask(padded_hw: Tuple[int, int], window: int, shift: int, device: torch.device) -> torch.Tensor:
    """(nW, window², window²) additive mask of a cyclically shifted window partition: 0 within a region, -inf
    across. Cached process-wide (least recently used, :data:`SHIFT_MASK_CACHE_SIZE` entries)."""
    if capturing_graph():
        return _traceable_shift_mask(padded_hw, window, shift, device)
    key = (tuple(padded_hw), window, shift, torch.device(device))
    mask = _SHIFT_MASKS.get(key)
    if mask is not None:
        _SHIFT_MASKS.move_to_end(key)
        return mask
    height, width = padded_hw
    with torch.inference_mode(False):  # a normal tensor, usable by training after an inference forward
        regions = torch.zeros((1, height, width, 1), device=device)
        slices = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        label = 0
        for rows in slices:
            for cols in slices:
                regions[:, rows, cols, :] = label
                label += 1
        region_windows = window_partition(regions, window).squeeze(-1)
        diff = region_windows.unsqueeze(1) - region_windows.unsqueeze(2)
        # -inf where the official code has -100: identical after the softmax in fp32 (e^-100 is far below the
        # resolution of the in-region weights), but no denormal weights, which made the following projection
        # ~20x slower on x86 through the padded windows. Every row keeps its own region.
        mask = diff.masked_fill(diff != 0, float('-inf')).masked_fill(diff == 0, 0.0)
    _SHIFT_MASKS[key] = mask
    while len(_SHIFT_MASKS) > SHIFT_MASK_CACHE_SIZE:
        _SHIFT_MASKS.popitem(last=False)
    return mask


def _traceable_shift_mask(padded_hw: Tuple[int, int], window: int, shift: int, device: torch.device) -> torch.Tensor:
    """:func:`shift_mask` from comparisons with the (traced) padded size, so that an exported graph builds the
    mask of every input size: along each axis, label 0 before ``size - window``, 1 up to ``size - shift``, 2
    after (the three slices of the cached form)."""
    def labels(size):
        position = torch.arange(size, device=device)
        return (position >= size - window).long() + (position >= size - shift).long()

    height, width = padded_hw
    regions = (labels(height).unsqueeze(1) * 3 + labels(width).unsqueeze(0)).float()
    region_windows = window_partition(regions[None, :, :, None], window).squeeze(-1)
    diff = region_windows.unsqueeze(1) - region_windows.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill(diff != 0, float('-inf'))


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``window`` -> (B·nW, window², C), windows row-major."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_reverse(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B·nW, window², C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, height // window, width // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, height, width, c)


def relative_position_index(window: int) -> torch.Tensor:
    """The standard Swin relative-position index, (window², window²) int64."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


@register_model
class ShiftedWindowAttention(AttentionOp):
    """Swin W-MSA / SW-MSA over an (H, W) map of any size: pads to a multiple of the window, optionally
    rolls by ``shift_size`` with the usual region mask (between regions: -inf, -100 in the official code),
    attends within windows with the relative-position bias, and crops the padding again.

    Args:
        embed_dims: channels C.
        num_heads: heads.
        window_size: window side (7 in every released model).
        shift_size: cyclic shift (0, or window_size // 2 on odd blocks).
        qkv_bias: bias of the ``qkv`` projection.
        attn_drop, proj_drop: dropout rates.
        no_shift_on_small_map: drop the shift when min(H, W) <= window_size, as the classification Swin
            code does. The Agent downstream code does not (odd blocks shift even on a 7x7 map): Agent-Swin
            keeps it False, FLatten-Swin (whose only official form is the classification one) sets True.

    Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 window_size: int = 7,
                 shift_size: int = 0,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 no_shift_on_small_map: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, init_cfg=init_cfg)
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift_size must be in [0, window_size), got {shift_size} for window {window_size}')
        self.window_size = window_size
        self.shift_size = shift_size
        self.no_shift_on_small_map = no_shift_on_small_map
        self.scale = (embed_dims // num_heads) ** -0.5

        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=.02)
        init_linear_trunc_normal(self)
        self.bias_cache = self.new_derived_cache()

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, window_size={self.window_size}, '
                f'shift_size={self.shift_size}')

    def _attention_bias(self, padded_hw: Tuple[int, int], shift: int, dtype: torch.dtype,
                        device: torch.device) -> torch.Tensor:
        """The additive attention mask: the relative-position bias (heads, n, n), plus the shift mask as
        (nW, heads, n, n) when shifted. Cached at inference (it is as large as the attention of one image)."""
        def compute() -> torch.Tensor:
            n = self.window_size ** 2
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            bias = bias.view(n, n, -1).permute(2, 0, 1)
            if shift:
                bias = bias.unsqueeze(0) + shift_mask(padded_hw, self.window_size, shift, device).unsqueeze(1)
            return bias.to(dtype)

        key = (padded_hw if shift else None, shift, dtype)
        return self.bias_cache.get(self, key, (self.relative_position_bias_table, ), compute)

    def _window_attention(self, windows: torch.Tensor, padded_hw: Tuple[int, int], shift: int) -> torch.Tensor:
        """(B·nW, n, C) windows -> (B·nW, n, C): softmax(s·QKᵀ + relative bias (+ shift mask))·V, fused."""
        b_windows, n, c = windows.shape
        q, k, v = (split_heads(t, self.num_heads) for t in self.qkv(windows).chunk(3, dim=-1))
        bias = self._attention_bias(padded_hw, shift, q.dtype, q.device)
        if bias.dim() == 4:  # windows are image-major: view the batch as (B, nW) to broadcast the shift mask
            q, k, v = (t.reshape(-1, bias.shape[0], *t.shape[1:]) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                             dropout_p=self.attn_drop.p if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(merge_heads(out.reshape(b_windows, self.num_heads, n, -1))))

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        height, width = hw_shape
        batch, n_tokens, channels = x.shape
        if n_tokens != height * width:
            raise ValueError(f'ShiftedWindowAttention got {n_tokens} tokens for a {height}x{width} map')
        window = self.window_size
        x = x.view(batch, height, width, channels)
        # ceil-div form: simpler symbolic sizes for torch.compile(dynamic=True) than ``(w - x % w) % w``
        padded_hw = ((height + window - 1) // window * window, (width + window - 1) // window * window)
        pad_b, pad_r = padded_hw[0] - height, padded_hw[1] - width
        if capturing_graph() or pad_r or pad_b:  # a captured graph pads and crops whatever the size
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))

        shift = self.shift_size
        if shift and self.no_shift_on_small_map and min(height, width) <= window:
            shift = 0
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))

        out = self._window_attention(window_partition(x, window), padded_hw, shift)
        out = window_reverse(out, window, *padded_hw)
        if shift:
            out = torch.roll(out, shifts=(shift, shift), dims=(1, 2))
        if capturing_graph() or pad_r or pad_b:
            out = out[:, :height, :width, :]
        return out.reshape(batch, n_tokens, channels)
