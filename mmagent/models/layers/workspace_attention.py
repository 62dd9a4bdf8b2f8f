"""Softmax attention in bf16 on CPUs whose bf16 units are dot-product instructions (AVX512-BF16, no AMX).

On such a CPU PyTorch's fused CPU attention runs slower in bf16 than in fp32 at the shapes of these models
(CSwin's 350- and 560-token stripes, agent attention over whole maps), forward and backward, while its bf16
matmuls run at about twice the fp32 rate. Written out (scores, softmax, product with V) the attention is
faster, but only if its score and probability maps do not land in freshly mapped memory at every call: a
model frees and reallocates them between layers, and the page faults then cost more than the arithmetic. So
:func:`workspace_attention` computes into work buffers per thread that persist across calls and grow to the
largest map seen (bounded by ``WORKSPACE_ELEMENTS``; larger maps are processed head by head, then in row
blocks), and its backward recomputes the probabilities into them, as a flash kernel does, instead of keeping
them.

:func:`scaled_dot_product_attention` is the drop-in the attention ops call: the written-out form where
:func:`workspace_attention_preferred` says so, PyTorch's fused attention everywhere else. Its results differ
from the fused kernel's by bf16 rounding of the scores, as in any attention written out under autocast.
docs/design/skeletons.md has the measurements.
"""
import functools
import threading
from typing import Iterator, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .common import empty_heads_last
from .export import recording_graph

__all__ = [
    'cpu_bf16_support', 'workspace_attention', 'workspace_attention_preferred', 'scaled_dot_product_attention',
    'release_workspace'
]

# Elements per work buffer (32 MB in bf16): holds every map of the T-size models at 1280x800 (the largest, 3 heads
# x 64000 tokens x 81 agents, is 15.5 M) so that each image takes one product per step.
WORKSPACE_ELEMENTS = 1 << 24

_workspaces = threading.local()


def cpu_bf16_support() -> str:
    """What the CPU offers bf16 matmuls: ``'AMX'`` (tile units, several times fp32's throughput),
    ``'AVX512-BF16'`` (dot-product instructions) or ``'none'`` (bf16 emulated: autocast runs slower than
    fp32). bf16 speed rows are comparable only between machines with the same answer."""
    if torch.cpu._is_amx_tile_supported():
        return 'AMX'
    if torch.cpu._is_avx512_bf16_supported():
        return 'AVX512-BF16'
    return 'none'


@functools.lru_cache(maxsize=None)
def _dot_product_bf16_cpu() -> bool:
    return cpu_bf16_support() == 'AVX512-BF16'


def _mask_needs_grad(attn_mask: Optional[torch.Tensor]) -> bool:
    return attn_mask is not None and attn_mask.requires_grad and torch.is_grad_enabled()


def _mask_gradient_supported(q: torch.Tensor, k: torch.Tensor, attn_mask: torch.Tensor) -> bool:
    """A mask's gradient is computed for masks with every head, per image or shared by the batch."""
    batch, heads, queries, _ = q.shape
    return attn_mask.dim() == 4 and attn_mask.shape[0] in (1, batch) and attn_mask.shape[1:] == (
        heads, queries, k.shape[2])


def workspace_attention_preferred(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                  attn_mask: Optional[torch.Tensor] = None, dropout_p: float = 0.) -> bool:
    """Whether :func:`scaled_dot_product_attention` takes the written-out form: bf16 on a CPU with AVX512-BF16
    and no AMX (measured faster there; on AMX CPUs PyTorch's fused kernel runs on the tiles; in fp32 the fused
    kernel is the faster one), no dropout, an additive mask of q's dtype if any (a boolean one goes to
    PyTorch), a mask that needs a gradient only in a layout whose gradient it computes, and no recorder (ONNX
    export, ``torch.compile``, tracing) running the model, which must see the one fused op."""
    return (q.dtype == torch.bfloat16 and q.device.type == 'cpu' and not dropout_p
            and (attn_mask is None or attn_mask.dtype == q.dtype)
            and not (_mask_needs_grad(attn_mask) and not _mask_gradient_supported(q, k, attn_mask))
            and not recording_graph() and _dot_product_bf16_cpu())


def _work_buffer(index: int, elements: int, like: torch.Tensor) -> torch.Tensor:
    """Flat work buffer ``index`` of this thread with at least ``elements`` entries of ``like``'s dtype."""
    buffers = getattr(_workspaces, 'buffers', None)
    if buffers is None:
        buffers = _workspaces.buffers = {}
    key = (index, like.dtype, like.device)
    buffer = buffers.get(key)
    if buffer is None or buffer.numel() < elements:
        # A normal tensor even under inference mode: later calls outside it write into it.
        with torch.inference_mode(False):
            buffer = buffers[key] = torch.empty(elements, dtype=like.dtype, device=like.device)
    return buffer[:elements]


def release_workspace() -> int:
    """Free this thread's work buffers (a later call makes them again); returns the bytes freed. They hold at most
    three maps of ``WORKSPACE_ELEMENTS`` each, per dtype (96 MB in bf16), for as long as the thread lives."""
    buffers = getattr(_workspaces, 'buffers', None) or {}
    freed = sum(t.numel() * t.element_size() for t in buffers.values())
    _workspaces.buffers = {}
    return freed


def _tiles(heads: int, queries: int, keys: int) -> Tuple[List[slice], int]:
    """The head groups and the rows per block of one image: every head at once if the map fits the buffer,
    else head by head in row blocks."""
    if heads * queries * keys <= WORKSPACE_ELEMENTS:
        return [slice(None)], queries
    return [slice(h, h + 1) for h in range(heads)], max(1, min(queries, WORKSPACE_ELEMENTS // keys))


def _blocks(q: torch.Tensor, keys: int, count: int) -> Iterator[Tuple[int, slice, int, int, List[torch.Tensor]]]:
    """(image, head group, first row, last row, ``count`` work buffers viewed as (heads, rows, keys)) for every
    block of the map."""
    batch, heads, queries, _ = q.shape
    groups, rows = _tiles(heads, queries, keys)
    group_heads = heads if len(groups) == 1 else 1
    buffers = [_work_buffer(i, group_heads * rows * keys, q) for i in range(count)]
    for b in range(batch):
        for group in groups:
            for r0 in range(0, queries, rows):
                r1 = min(r0 + rows, queries)
                size = group_heads * (r1 - r0) * keys
                yield b, group, r0, r1, [t[:size].view(group_heads, r1 - r0, keys) for t in buffers]


def _scores(out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, mask: Optional[torch.Tensor], b: int,
            group: slice, r0: int, r1: int, scale: float) -> None:
    """``out`` = scale·q·kᵀ (+ mask) for one block."""
    if mask is None:  # beta=0: the buffer's old contents are ignored
        torch.baddbmm(out, q[b, group, r0:r1], k[b, group].transpose(1, 2), beta=0, alpha=scale, out=out)
    else:
        torch.baddbmm(mask[b, group, r0:r1], q[b, group, r0:r1], k[b, group].transpose(1, 2), alpha=scale, out=out)


class _WorkspaceAttention(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor],
                scale: float) -> torch.Tensor:
        out = empty_heads_last(q, v.shape[3])
        expanded = None if mask is None else mask.expand(q.shape[0], *mask.shape[1:])
        for b, group, r0, r1, (scores, probs) in _blocks(q, k.shape[2], 2):
            _scores(scores, q, k, expanded, b, group, r0, r1, scale)
            torch.ops.aten._softmax.out(scores, -1, False, out=probs)
            torch.bmm(probs, v[b, group], out=out[b, group, r0:r1])
        ctx.save_for_backward(q, k, v, mask)
        ctx.scale = scale
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, mask = ctx.saved_tensors
        scale = ctx.scale
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad[:4]
        grad_q = empty_heads_last(q) if need_q else None
        grad_k = empty_heads_last(k) if need_k else None
        grad_v = empty_heads_last(v) if need_v else None
        # the mask's gradient: dS summed over the images that share it
        grad_mask = torch.empty_like(mask, memory_format=torch.contiguous_format) if need_mask else None
        expanded = None if mask is None else mask.expand(q.shape[0], *mask.shape[1:])
        for b, group, r0, r1, (scores, probs, grad_probs) in _blocks(q, k.shape[2], 3):
            first = r0 == 0  # the first row block of an image writes dK and dV, the others add to them
            _scores(scores, q, k, expanded, b, group, r0, r1, scale)
            torch.ops.aten._softmax.out(scores, -1, False, out=probs)  # recomputed, not kept from the forward
            block_grad = grad_out[b, group, r0:r1]
            if need_v:
                target = grad_v[b, group]
                torch.baddbmm(target, probs.transpose(1, 2), block_grad, beta=0 if first else 1, out=target)
            torch.bmm(block_grad, v[b, group].transpose(1, 2), out=grad_probs)
            grad_scores = scores  # dS = P ∘ (dP − rowsum(dP ∘ P)), written over the scores
            torch.ops.aten._softmax_backward_data.out(grad_probs, probs, -1, q.dtype, grad_input=grad_scores)
            if need_q:
                target = grad_q[b, group, r0:r1]
                torch.baddbmm(target, grad_scores, k[b, group], beta=0, alpha=scale, out=target)
            if need_k:
                target = grad_k[b, group]
                torch.baddbmm(target, grad_scores.transpose(1, 2), q[b, group, r0:r1], beta=0 if first else 1,
                              alpha=scale, out=target)
            if need_mask:
                target = grad_mask[b if grad_mask.shape[0] > 1 else 0, group, r0:r1]
                if b == 0 or grad_mask.shape[0] > 1:
                    target.copy_(grad_scores)
                else:
                    target.add_(grad_scores)
        return grad_q, grad_k, grad_v, grad_mask, None


def workspace_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                        attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``softmax(scale·q·kᵀ + attn_mask)·v`` written out into this thread's persistent work buffers, with a
    backward that recomputes the probabilities.

    Args:
        q: (B, h, Lq, d); k: (B, h, Lk, d); v: (B, h, Lk, dv), any strides with unit last stride (such as the
            head views of (B, L, C) maps).
        scale: the factor of the dot products.
        attn_mask: additive, broadcastable to (B, h, Lq, Lk), or None. A mask that needs a gradient must be
            (1 or B, h, Lq, Lk): a learned bias shared by the batch, or one per image.

    Returns:
        (B, h, Lq, dv), stored as (B, Lq, h, dv) so that merging the heads needs no copy.
    """
    batch, heads, queries, _ = q.shape
    keys = k.shape[2]
    if k.shape[:2] != (batch, heads) or v.shape[:3] != k.shape[:3] or k.shape[3] != q.shape[3]:
        raise ValueError(f'workspace_attention: q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} '
                         'must be (B, h, Lq, d), (B, h, Lk, d) and (B, h, Lk, dv)')
    if attn_mask is not None and attn_mask.dtype != q.dtype:
        raise ValueError(f'workspace_attention: the mask is added to the scores and must be {q.dtype}, got '
                         f'{attn_mask.dtype}')
    if attn_mask is None:
        mask = None
    elif _mask_needs_grad(attn_mask):
        if not _mask_gradient_supported(q, k, attn_mask):
            raise ValueError(f'workspace_attention: a mask that needs a gradient must be (1 or {batch}, {heads}, '
                             f'{queries}, {keys}), got {tuple(attn_mask.shape)}')
        mask = attn_mask
    else:  # a constant: any broadcastable shape
        mask = attn_mask.expand(batch, heads, queries, keys)[:1 if attn_mask.dim() < 4 or attn_mask.shape[0] == 1
                                                             else batch]
    return _WorkspaceAttention.apply(q, k, v, mask, scale)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: Optional[torch.Tensor] = None, dropout_p: float = 0.,
                                 scale: Optional[float] = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (same arguments and result), written out into persistent work
    buffers where :func:`workspace_attention_preferred` holds."""
    if workspace_attention_preferred(q, k, v, attn_mask, dropout_p):
        return workspace_attention(q, k, v, q.shape[-1]**-0.5 if scale is None else scale, attn_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)
