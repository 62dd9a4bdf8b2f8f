"""Softmax attention for bf16 inference on CPUs whose bf16 units are dot-product instructions (AVX512-BF16).

On such a CPU (no AMX tiles) PyTorch's fused CPU attention runs slower in bf16 than in fp32 at the shapes of
these models (CSwin's 350- and 560-token stripes, agent attention over whole maps), while its own bf16 matmuls
run at about twice the fp32 rate. Written out (scores, softmax, product with V) the attention is faster, but
only if its score and probability maps do not land in freshly mapped memory at every call: a model's forward
frees and reallocates them between layers, and the page faults then cost more than the arithmetic. So
:func:`workspace_attention` computes into two work buffers per thread that persist across calls and grow to the
largest map seen (bounded by ``WORKSPACE_ELEMENTS``; larger maps are processed head by head, then in row
blocks).

:func:`scaled_dot_product_attention` is the drop-in the attention ops call: the written-out form where
:func:`workspace_attention_preferred` says so (bf16, CPU with AVX512-BF16 and no AMX, no backward recorded, no
dropout, no graph being recorded), PyTorch's fused attention everywhere else. Its results differ from the fused
kernel's by bf16 rounding of the scores, as in any attention written out under autocast.
docs/design/skeletons.md has the measurements.
"""
import functools
import threading
from typing import Optional

import torch
import torch.nn.functional as F

from .export import recording_graph

__all__ = ['cpu_bf16_support', 'workspace_attention', 'workspace_attention_preferred', 'scaled_dot_product_attention']

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


def workspace_attention_preferred(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                  attn_mask: Optional[torch.Tensor] = None, dropout_p: float = 0.) -> bool:
    """Whether :func:`scaled_dot_product_attention` takes the written-out form for these inputs: bf16 on a CPU
    with AVX512-BF16 and no AMX (measured faster there; on AMX CPUs PyTorch's fused kernel runs on the tiles),
    no backward recorded (the work buffers are overwritten by the next call), no dropout, and no recorder
    (ONNX export, ``torch.compile``, tracing) running the model, which must see the one fused op."""
    tensors = (q, k, v) if attn_mask is None else (q, k, v, attn_mask)
    return (q.dtype == torch.bfloat16 and q.device.type == 'cpu' and not dropout_p
            and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
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


def workspace_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                        attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``softmax(scale·q·kᵀ + attn_mask)·v`` written out into this thread's persistent work buffers (no
    autograd: for inference).

    Args:
        q: (B, h, Lq, d); k: (B, h, Lk, d); v: (B, h, Lk, dv), any strides with unit last stride (such as the
            head views of (B, L, C) maps).
        scale: the factor of the dot products.
        attn_mask: additive, broadcastable to (B, h, Lq, Lk), or None.

    Returns:
        (B, h, Lq, dv), stored as (B, Lq, h, dv) so that merging the heads needs no copy.
    """
    batch, heads, queries, _ = q.shape
    keys = k.shape[2]
    if k.shape[:2] != (batch, heads) or v.shape[:3] != k.shape[:3] or k.shape[3] != q.shape[3]:
        raise ValueError(f'workspace_attention: q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} '
                         'must be (B, h, Lq, d), (B, h, Lk, d) and (B, h, Lk, dv)')
    mask = None if attn_mask is None else attn_mask.expand(batch, heads, queries, keys)
    out = q.new_empty(batch, queries, heads, v.shape[3]).transpose(1, 2)
    if heads * queries * keys <= WORKSPACE_ELEMENTS:
        head_groups, rows = [slice(None)], queries  # every head of an image in one product
    else:
        head_groups, rows = [slice(h, h + 1) for h in range(heads)], max(1, min(queries, WORKSPACE_ELEMENTS // keys))
    group_heads = heads if len(head_groups) == 1 else 1
    elements = group_heads * rows * keys
    scores_buffer, probs_buffer = _work_buffer(0, elements, q), _work_buffer(1, elements, q)
    for b in range(batch):
        for group in head_groups:
            keys_t, values = k[b, group].transpose(1, 2), v[b, group]
            for r0 in range(0, queries, rows):
                r1 = min(r0 + rows, queries)
                shape = (group_heads, r1 - r0, keys)
                scores, probs = (t[:group_heads * (r1 - r0) * keys].view(shape) for t in (scores_buffer, probs_buffer))
                if mask is None:  # beta=0: the buffer's old contents are ignored
                    torch.baddbmm(scores, q[b, group, r0:r1], keys_t, beta=0, alpha=scale, out=scores)
                else:
                    torch.baddbmm(mask[b, group, r0:r1], q[b, group, r0:r1], keys_t, alpha=scale, out=scores)
                torch.ops.aten._softmax.out(scores, -1, False, out=probs)
                torch.bmm(probs, values, out=out[b, group, r0:r1])
    return out


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 attn_mask: Optional[torch.Tensor] = None, dropout_p: float = 0.,
                                 scale: Optional[float] = None) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (same arguments and result), written out into persistent work
    buffers where :func:`workspace_attention_preferred` holds."""
    if workspace_attention_preferred(q, k, v, attn_mask, dropout_p):
        return workspace_attention(q, k, v, q.shape[-1]**-0.5 if scale is None else scale, attn_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale)
