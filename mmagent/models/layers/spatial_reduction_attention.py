"""PVT's spatial-reduction attention, the host attention of the PVT skeleton. Parameter names follow the
official checkpoints (``q``, ``kv``, ``proj``, ``sr``, ``norm``)."""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ...registry import register_model
from .base import AttentionOp
from .common import init_linear_trunc_normal, merge_heads, split_heads

__all__ = ['SpatialReductionAttention']


@register_model
class SpatialReductionAttention(AttentionOp):
    """PVT's spatial-reduction attention: keys and values from the map downsampled by a stride-``sr_ratio``
    conv (+ LayerNorm), queries from every token. The host attention (``B``/``S``) of the PVT skeleton.

    Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 sr_ratio: int = 1,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(embed_dims, num_heads, init_cfg=init_cfg)
        self.scale = (embed_dims // num_heads) ** -0.5
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor, hw_shape: Sequence[int]) -> torch.Tensor:
        height, width = hw_shape
        batch, n_tokens, channels = x.shape
        q = split_heads(self.q(x), self.num_heads)
        source = x
        if self.sr_ratio > 1:
            reduced = self.sr(x.transpose(1, 2).reshape(batch, channels, height, width))
            source = self.norm(reduced.flatten(2).transpose(1, 2))
        k, v = (split_heads(t, self.num_heads) for t in self.kv(source).chunk(2, dim=-1))
        attn = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj_drop(self.proj(merge_heads(attn @ v)))
