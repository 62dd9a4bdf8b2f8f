"""Small pieces shared by every mmagent backbone and attention op: the MLP, the head split/merge and Q/K/V
projection helpers, the eval-mode cache for tensors derived from parameters (resized biases and position
encodings) with the mixin that owns such caches, and argument helpers."""
from collections import OrderedDict
from typing import Callable, Hashable, Iterable, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .export import adaptive_avg_pool2d, capturing_graph, recording_graph

IntPair = Union[int, Sequence[int]]


def to_2tuple(value: IntPair, name: str = 'value') -> Tuple[int, int]:
    """``7 -> (7, 7)``; ``(7, 14) -> (7, 14)``."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f'{name} must be an int or a pair of ints, got {value!r}')
    return value


class _GeluLinear(torch.autograd.Function):
    """``linear(gelu(h), weight, bias)`` whose backward writes GELU's gradient in place into the gradient of
    the linear's input, a tensor this backward allocates itself: autograd's composite allocates a second
    hidden-sized tensor (4C per token) for it, which costs more than the arithmetic on large maps (the
    freshly mapped pages are faulted in on first touch). Saves what autograd saves (h, gelu(h), weight).
    Runs in h's dtype; under autocast h is already in the autocast dtype and the weight is cast to it, as the
    composite's ``linear`` does."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.weight_dtype = weight.dtype
        ctx.has_bias = bias is not None
        weight = weight.to(hidden.dtype)
        with torch.autocast(hidden.device.type, enabled=False):
            activated = F.gelu(hidden)
            out = F.linear(activated, weight, None if bias is None else bias.to(hidden.dtype))
        ctx.save_for_backward(hidden, activated, weight)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        hidden, activated, weight = ctx.saved_tensors
        grad_out = grad_out.to(hidden.dtype)
        grad_2d = grad_out.reshape(-1, grad_out.shape[-1])
        grad_hidden = grad_weight = grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_weight = grad_2d.t().mm(activated.reshape(-1, activated.shape[-1])).to(ctx.weight_dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_2d.sum(0).to(ctx.weight_dtype)
        if ctx.needs_input_grad[0]:
            grad_hidden = grad_out.matmul(weight)  # new and owned here, so GELU's gradient can overwrite it
            torch.ops.aten.gelu_backward.grad_input(grad_hidden, hidden, grad_input=grad_hidden)
        return grad_hidden, grad_weight, grad_bias


def gelu_linear(hidden: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """``linear(gelu(hidden))``; with gradients on through :class:`_GeluLinear` (same values and gradients, one
    hidden-sized tensor fewer in the backward). Export, tracing and compiling take the composite, which they
    record op by op, and so does an input whose dtype autocast or the weight would change."""
    if not torch.is_grad_enabled() or recording_graph():
        return linear(F.gelu(hidden))
    device = hidden.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else linear.weight.dtype
    if hidden.dtype != dtype:
        return linear(F.gelu(hidden))
    return _GeluLinear.apply(hidden, linear.weight, linear.bias)


class Mlp(nn.Module):
    """Linear -> GELU -> Dropout -> Linear -> Dropout; keys ``fc1``, ``fc2`` as in the official code.

    Shapes: (B, N, C) -> (B, N, C).
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop.p == 0 or not self.training:
            return gelu_linear(self.fc1(x), self.fc2)
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ConvMlp(nn.Module):
    """The PVTv2 MLP: Linear C→rC, depthwise 3×3 on the hidden map, GELU, Dropout, Linear rC→C, Dropout.

    The depthwise conv is ``dwconv.dwconv`` in the official PVTv2 checkpoints (``nested_dwconv=True``) and
    ``dwconv`` in mmagent's LaViT. Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0., nested_dwconv: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        conv = nn.Conv2d(hidden_features, hidden_features, 3, padding=1, groups=hidden_features)
        self.nested_dwconv = nested_dwconv
        if nested_dwconv:
            self.dwconv = nn.Module()
            self.dwconv.dwconv = conv
        else:
            self.dwconv = conv
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        conv = self.dwconv.dwconv if self.nested_dwconv else self.dwconv
        x = depthwise_conv_tokens(self.fc1(x), hw_shape, conv)
        if self.drop.p == 0 or not self.training:
            return gelu_linear(x, self.fc2)
        return self.drop(self.fc2(self.drop(self.act(x))))


class DerivedTensorCache:
    """Caches tensors computed from parameters (resized position biases, interpolated encodings) while a
    module runs inference, so that a repeated input size does not redo the resizes.

    A cached value is used only when gradients are off (``torch.no_grad`` / ``inference_mode``), the module
    is in eval mode and neither an exporter nor ``torch.compile`` is recording. The key includes each source
    parameter's version counter and storage address, so an in-place update (``load_state_dict``, an optimizer
    step) or a move to another device or dtype invalidates it. Training always recomputes: the resize is part of the graph.
    """

    def __init__(self, max_entries: int = 8) -> None:
        self.max_entries = max_entries
        self._entries: 'OrderedDict[Hashable, object]' = OrderedDict()
        self.enabled = True
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, module: nn.Module, key: Hashable, sources: Iterable[torch.Tensor],
            compute: Callable[[], object]) -> object:
        if not self.enabled or module.training or torch.is_grad_enabled() or recording_graph():
            return compute()  # a traced or compiled graph must contain the computation, not a cached result
        sources = tuple(sources)
        if any(p.is_inference() for p in sources):
            # Parameters created under inference_mode have no version counter: a change could not be seen.
            return compute()
        full_key = (key, tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in sources))
        if full_key in self._entries:
            self._entries.move_to_end(full_key)
            self.hits += 1
            return self._entries[full_key]
        self.misses += 1
        value = compute()
        self._entries[full_key] = value
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value


class DerivedCacheOwner:
    """Mixin for modules that own :class:`DerivedTensorCache` objects (attention ops, backbones).

    Caches are created with :meth:`new_derived_cache`, listed by :meth:`derived_caches` (what the public model
    API in ``mmagent.models.api`` enables, disables and clears) and emptied whenever the module changes mode.
    """

    def new_derived_cache(self, max_entries: int = 8) -> DerivedTensorCache:
        cache = DerivedTensorCache(max_entries)
        self.__dict__.setdefault('_derived_caches', []).append(cache)
        return cache

    def derived_caches(self) -> Tuple[DerivedTensorCache, ...]:
        return tuple(self.__dict__.get('_derived_caches', ()))

    def train(self, mode: bool = True):
        for cache in self.derived_caches():
            cache.clear()
        return super().train(mode)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, C) -> (B, heads, L, C / heads)."""
    b, length, c = x.shape
    return x.reshape(b, length, num_heads, c // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, L, d) -> (B, L, heads * d)."""
    b, h, length, d = x.shape
    return x.transpose(1, 2).reshape(b, length, h * d)


def empty_heads_last(like: torch.Tensor, width: Optional[int] = None) -> torch.Tensor:
    """An empty tensor of ``like``'s (B, heads, L, ·) shape with last dim ``width`` (default: like's), laid out as
    (B, L, heads, width), so that :func:`merge_heads` of it is a view."""
    batch, heads, length, own_width = like.shape
    return like.new_empty(batch, length, heads, own_width if width is None else width).transpose(1, 2)


class QKVProjection:
    """Mixin for attention ops: the Q/K/V projection in either official layout, as attributes of the op itself
    so that the official parameter names stay: ``'qkv'`` (Swin: one ``qkv`` Linear, output [Q|K|V]) or
    ``'q_kv'`` (PVT: ``q`` and ``kv`` Linears, [K|V])."""

    def _build_projection(self, embed_dims: int, qkv_bias: bool, qkv_layout: str) -> None:
        if qkv_layout == 'qkv':
            self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        elif qkv_layout == 'q_kv':
            self.q = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
            self.kv = nn.Linear(embed_dims, embed_dims * 2, bias=qkv_bias)
        else:
            raise ValueError(f"qkv_layout must be 'qkv' (Swin: one qkv Linear) or 'q_kv' (PVT: q and kv "
                             f'Linears), got {qkv_layout!r}')
        self.qkv_layout = qkv_layout

    def _project(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, N, C) -> q, k, v, each (B, N, C), channels head-major."""
        if self.qkv_layout == 'qkv':
            return self.qkv(x).chunk(3, dim=-1)
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.q(x), k, v


def per_stage(name: str, values: Union[int, float, Sequence], num_stages: int) -> list:
    """One value per stage; a single value is repeated."""
    if isinstance(values, (int, float)):
        return [values] * num_stages
    values = list(values)
    if len(values) != num_stages:
        raise ValueError(f'{name} must have one entry per stage ({num_stages}), got {values}')
    return values


def resize_grid(tensor: torch.Tensor, size: Tuple[int, int], mode: str = 'bilinear',
                align_corners: bool = False) -> torch.Tensor:
    """Resize the last two axes of an (N, C, h, w) tensor to ``size``; identity (no op) when equal.

    ``align_corners=False`` by default, as in the official code. In a training step the resize runs as
    ``R_h · X · R_wᵀ`` with the resize matrices (see :func:`resize_token_embedding`).
    """
    if not capturing_graph() and tuple(tensor.shape[-2:]) == tuple(size):  # a captured graph keeps the resize
        return tensor
    if _records_backward(tensor) and mode in ('bilinear', 'bicubic'):
        rows = resize_matrix(tensor.shape[-2], size[0], mode, tensor.dtype, tensor.device, align_corners)
        cols = resize_matrix(tensor.shape[-1], size[1], mode, tensor.dtype, tensor.device, align_corners)
        return torch.matmul(torch.matmul(rows, tensor), cols.transpose(0, 1))
    return F.interpolate(tensor, size=size, mode=mode, align_corners=align_corners)


def resize_matrix(length_in: int, length_out: int, mode: str, dtype: torch.dtype, device: torch.device,
                  align_corners: bool = False) -> torch.Tensor:
    """(length_out, length_in): PyTorch's 1-D resize weights for ``mode`` (``'bilinear'``, ``'bicubic'``), read
    off by resizing an identity along one axis (the other keeps its size, which resizes by the identity).
    Both modes are separable: a 2-D resize of a (h, w) grid is ``R_h · X · R_wᵀ``, and of a row-major flattened
    grid the Kronecker product ``R_h ⊗ R_w``."""
    eye = torch.eye(length_in, dtype=dtype, device=device).view(1, 1, length_in, length_in)
    return F.interpolate(eye, size=(length_out, length_in), mode=mode, align_corners=align_corners)[0, 0]


def _records_backward(tensor: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and tensor.requires_grad and not capturing_graph()


def resize_token_embedding(embedding: torch.Tensor, stored_hw: Tuple[int, int], hw_shape: Tuple[int, int],
                           mode: str = 'bilinear', align_corners: bool = False) -> torch.Tensor:
    """A (1, h·w, C) embedding stored on a row-major (h, w) grid, resized to (H, W): (1, H·W, C).

    In a training step the resize runs as two matmuls with the resize matrices (:func:`resize_matrix`): the
    same weights, and a backward of two more matmuls instead of the interpolation kernel's scatter (several
    times slower on CPU, and paid at every step since the resize depends on the trained embedding)."""
    if not capturing_graph() and tuple(hw_shape) == tuple(stored_hw):
        return embedding
    if _records_backward(embedding):
        (h, w), (height, width), channels = stored_hw, hw_shape, embedding.shape[-1]
        rows = resize_matrix(h, height, mode, embedding.dtype, embedding.device, align_corners)
        cols = resize_matrix(w, width, mode, embedding.dtype, embedding.device, align_corners)
        grid = (rows @ embedding.reshape(h, w * channels)).view(height, w, channels)
        return torch.matmul(cols, grid).reshape(1, height * width, channels)
    grid = embedding.reshape(1, *stored_hw, -1).permute(0, 3, 1, 2)
    return resize_grid(grid, tuple(hw_shape), mode, align_corners).flatten(2).transpose(1, 2)


def init_linear_trunc_normal(module: nn.Module, std: float = .02) -> None:
    """Default init of the official code: Linear weights N(0, std) truncated at ±2, biases 0,
    LayerNorm weight 1 / bias 0. Convolutions keep PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def depthwise_conv_tokens(tokens: torch.Tensor, hw_shape: Tuple[int, int], conv: nn.Conv2d,
                          channel_repeats: int = 1) -> torch.Tensor:
    """Depthwise ``conv`` over a token map without layout copies: (B, H·W, C) -> (B, H·W, C).

    The tokens are viewed as a channels-last (B, C, H, W) map, for which oneDNN's depthwise kernels are
    several times faster than for the channels-first copy the official code makes. ``channel_repeats`` > 1
    applies a conv of C / r channels to every group of C / r consecutive channels (FLatten's DWC, whose
    weights are shared by the heads).
    """
    batch, n_tokens, channels = tokens.shape
    maps = tokens.contiguous().view(batch, *hw_shape, channels).permute(0, 3, 1, 2)
    weight, bias = conv.weight, conv.bias
    if channel_repeats > 1:
        weight = weight.repeat(channel_repeats, 1, 1, 1)
        bias = bias.repeat(channel_repeats) if bias is not None else None
    if _bf16_backward_is_slow(maps, conv):
        # oneDNN's CPU backward of a bf16 depthwise conv larger than 3x3 runs 2-3.5x slower than the fp32 one
        # (docs/benchmarks.md): compute this conv in fp32 when a backward will follow
        with torch.autocast('cpu', enabled=False):
            out = _depthwise_conv(maps.float(), weight.float(), None if bias is None else bias.float(),
                                  conv).to(maps.dtype)
    else:
        out = _depthwise_conv(maps, weight, bias, conv)
    return out.permute(0, 2, 3, 1).reshape(batch, n_tokens, channels)


def _depthwise_conv(maps: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                    conv: nn.Conv2d) -> torch.Tensor:
    """``conv``'s depthwise convolution of ``maps`` with ``weight`` and ``bias``; through
    :class:`_DepthwiseConvSame` where its weight gradient is the faster one."""
    kernel = conv.kernel_size
    if (not recording_graph() and torch.is_grad_enabled() and (maps.requires_grad or weight.requires_grad)
            and maps.device.type == 'cpu' and maps.dtype == torch.float32 and weight.dtype == torch.float32
            and max(kernel) > 3 and tuple(conv.stride) == (1, 1) and tuple(conv.dilation) == (1, 1)
            and tuple(conv.padding) == (kernel[0] // 2, kernel[1] // 2) and kernel[0] % 2 == kernel[1] % 2 == 1
            and maps.shape[2] * maps.shape[3] >= PER_IMAGE_WEIGHT_GRAD_MIN_AREA):
        return _DepthwiseConvSame.apply(maps, weight, bias)
    return F.conv2d(maps, weight, bias, conv.stride, conv.padding, conv.dilation, maps.shape[1])


# Below this many tokens per map, oneDNN's weight gradient beats the per-image loop (e.g. 64 maps of 14x14).
PER_IMAGE_WEIGHT_GRAD_MIN_AREA = 400


class _DepthwiseConvSame(torch.autograd.Function):
    """Depthwise convolution with stride 1 and 'same' padding (odd kernel) whose weight gradient is computed
    image by image as a depthwise convolution of the padded input with the output gradient as the kernel.

    oneDNN's CPU weight gradient of a depthwise kernel larger than 3x3 is 3-4x slower than this on maps of
    about 28x28 and more (5x5 at (2, 64, 200, 320) channels-last: ~150 against ~50 ms); on many small maps
    (``PER_IMAGE_WEIGHT_GRAD_MIN_AREA``) and for 3x3 kernels, whose oneDNN kernel is fast, the plain conv is
    used.
    The input gradient and the forward are oneDNN's. Shapes: (B, C, H, W), weight (C, 1, k_h, k_w)."""

    @staticmethod
    def forward(ctx, maps: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(maps, weight)
        ctx.has_bias = bias is not None
        padding = (weight.shape[2] // 2, weight.shape[3] // 2)
        return F.conv2d(maps, weight, bias, 1, padding, 1, maps.shape[1])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        maps, weight = ctx.saved_tensors
        channels = maps.shape[1]
        pad_h, pad_w = weight.shape[2] // 2, weight.shape[3] // 2
        grad_maps = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_maps = torch.ops.aten.convolution_backward(
                grad_out, maps, weight, None, (1, 1), (pad_h, pad_w), (1, 1), False, (0, 0), channels,
                (True, False, False))[0]
        if ctx.needs_input_grad[1]:
            # dW[c, i, j] = sum over images and positions of grad_out[c, y, x] * padded[c, y + i, x + j]
            padded = F.pad(maps, (pad_w, pad_w, pad_h, pad_h))
            for index in range(maps.shape[0]):
                part = F.conv2d(padded[index:index + 1], grad_out[index].unsqueeze(1), groups=channels)
                grad_weight = part if grad_weight is None else grad_weight.add_(part)
            grad_weight = grad_weight.reshape(weight.shape)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_out.sum((0, 2, 3))
        return grad_maps, grad_weight, grad_bias


def _bf16_backward_is_slow(maps: torch.Tensor, conv: nn.Conv2d) -> bool:
    """A depthwise conv larger than 3x3 on bf16 CPU maps (bf16 autocast) that records a backward."""
    return (maps.device.type == 'cpu' and maps.dtype == torch.bfloat16 and max(conv.kernel_size) > 3
            and torch.is_grad_enabled() and (maps.requires_grad or conv.weight.requires_grad))


def pool_tokens_to_grid(tokens: torch.Tensor, hw_shape: Tuple[int, int], grid: Tuple[int, int]) -> torch.Tensor:
    """Adaptive average pooling of a token map: (B, H·W, C) -> (B, g_h·g_w, C), cells row-major."""
    batch, _, channels = tokens.shape
    maps = tokens.contiguous().view(batch, *hw_shape, channels).permute(0, 3, 1, 2)
    return adaptive_avg_pool2d(maps, grid).permute(0, 2, 3, 1).reshape(batch, -1, channels)
