"""Softmax attention with a learned additive bias, forward and backward, for CPU training steps.

``softmax(s·Q·Kᵀ + B)·V`` with a bias ``B`` shared over the batch that needs a gradient, given as a product of
two factors (the agent attention's resized position biases are such products). PyTorch's fused CPU
attention takes such a bias only on its explicit path (the whole (Lq, Lk) score map materialised, softmax and
its backward as separate passes over it), and its flash kernel, which takes the bias as a constant, needs Q, K
and V of one width. :func:`biased_attention` runs the attention in row blocks of bounded size: per
block the bias block is formed once for the whole batch (one ``mm`` of its factors), then per image one
``addmm`` (bias + scores), the softmax in place and one ``mm``; the backward recomputes the block's
probabilities from the saved log-sum-exp (as a flash kernel does) instead of keeping the map. Scores,
probabilities and their gradient are never held for the whole map, and every product runs at the head dim;
the bias block's gradient is summed over the batch and passed to the factors block by block.
docs/design/agent_attention.md says where it is used and what it saves.
"""
from typing import List, Tuple

import torch

from .common import empty_heads_last

__all__ = ['biased_attention']

# Score elements per row block (4 MB in fp32; the backward holds four such work buffers): large enough that
# per-call overheads vanish (2 MB blocks were measured 10-20 % slower at Agent-Swin-T's stage-3 shapes).
BLOCK_ELEMENTS = 1 << 20


def _row_blocks(queries: int, keys: int) -> List[Tuple[int, int]]:
    rows = max(1, min(queries, BLOCK_ELEMENTS // max(keys, 1)))
    return [(start, min(start + rows, queries)) for start in range(0, queries, rows)]


class _BiasedAttention(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, left: torch.Tensor, right: torch.Tensor,
                scale: float) -> torch.Tensor:
        batch, heads, queries, _ = q.shape
        keys = k.shape[2]
        out = empty_heads_last(q, v.shape[3])
        log_sum_exp = q.new_empty(batch, heads, queries, 1)
        blocks = _row_blocks(queries, keys)
        rows = blocks[0][1]
        bias_block, probs_block = q.new_empty(rows, keys), q.new_empty(rows, keys)  # reused: no page faults
        for h in range(heads):
            head_left, head_right = left[h % left.shape[0]], right[h % right.shape[0]]
            for r0, r1 in blocks:
                bias = torch.mm(head_left[r0:r1], head_right, out=bias_block[:r1 - r0])
                probs = probs_block[:r1 - r0]
                for b in range(batch):  # the bias block serves every image
                    torch.addmm(bias, q[b, h, r0:r1], k[b, h].t(), alpha=scale, out=probs)
                    row_max = probs.amax(-1, keepdim=True)
                    probs.sub_(row_max).exp_()
                    total = probs.sum(-1, keepdim=True)
                    block_out = out[b, h, r0:r1]
                    torch.mm(probs, v[b, h], out=block_out)
                    block_out.div_(total)
                    torch.add(row_max, total.log_(), out=log_sum_exp[b, h, r0:r1])
        ctx.save_for_backward(q, k, v, left, right, out, log_sum_exp)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        q, k, v, left, right, out, log_sum_exp = ctx.saved_tensors
        scale = ctx.scale
        batch, heads, queries, width = q.shape
        keys = k.shape[2]
        need_q, need_k, need_v, need_left, need_right = ctx.needs_input_grad[:5]
        grad_q = empty_heads_last(q) if need_q else None
        grad_k = k.new_zeros(batch, keys, heads, width).transpose(1, 2) if need_k else None
        grad_v = v.new_zeros(batch, keys, heads, v.shape[3]).transpose(1, 2) if need_v else None
        grad_left = torch.zeros_like(left) if need_left else None
        grad_right = torch.zeros_like(right) if need_right else None
        # Softmax backward: dS = P ∘ (dP − rowsum(dO ∘ O)).
        row_dot = (grad_out * out).sum(-1, keepdim=True)
        blocks = _row_blocks(queries, keys)
        rows = blocks[0][1]
        bias_block, probs_block, grad_block, grad_bias_block = (q.new_empty(rows, keys) for _ in range(4))
        for h in range(heads):
            left_index, right_index = h % left.shape[0], h % right.shape[0]
            head_left, head_right = left[left_index], right[right_index]
            for r0, r1 in blocks:
                bias = torch.mm(head_left[r0:r1], head_right, out=bias_block[:r1 - r0])
                probs, grad_scores, grad_bias = (t[:r1 - r0] for t in (probs_block, grad_block, grad_bias_block))
                for b in range(batch):
                    block_q, block_grad = q[b, h, r0:r1], grad_out[b, h, r0:r1]
                    torch.addmm(bias, block_q, k[b, h].t(), alpha=scale, out=probs)
                    probs.sub_(log_sum_exp[b, h, r0:r1]).exp_()
                    torch.mm(block_grad, v[b, h].t(), out=grad_scores)
                    grad_scores.sub_(row_dot[b, h, r0:r1]).mul_(probs)
                    if need_v:
                        grad_v[b, h].addmm_(probs.t(), block_grad)
                    if need_q:
                        grad_q[b, h, r0:r1].addmm_(grad_scores, k[b, h], beta=0, alpha=scale)
                    if need_k:
                        grad_k[b, h].addmm_(grad_scores.t(), block_q, alpha=scale)
                    if b == 0:
                        grad_bias.copy_(grad_scores)
                    else:
                        grad_bias.add_(grad_scores)
                # the bias block's gradient, summed over the batch, goes to its two factors
                if need_left:
                    grad_left[left_index, r0:r1].addmm_(grad_bias, head_right.t())
                if need_right:
                    grad_right[right_index].addmm_(head_left[r0:r1].t(), grad_bias)
        return grad_q, grad_k, grad_v, grad_left, grad_right, None


def biased_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias_left: torch.Tensor,
                     bias_right: torch.Tensor, scale: float) -> torch.Tensor:
    """``softmax(scale·q·kᵀ + bias)·v`` per batch element and head, with the bias given as a product of two
    factors, ``bias[h] = bias_left[h] · bias_right[h]`` (a factor with one head serves all): the bias is formed
    block by block, once per head for the whole batch, and its gradient goes straight to the factors, so no
    (h, Lq, Lk) bias or bias gradient is ever allocated.

    Args:
        q: (B, h, Lq, d); k: (B, h, Lk, d); v: (B, h, Lk, dv), any strides with unit last stride (such as the
            head views of (B, L, C) maps).
        bias_left: (h or 1, Lq, r); bias_right: (h or 1, r, Lk).
        scale: the factor of the dot products.

    Returns:
        (B, h, Lq, dv), stored as (B, Lq, h, dv) so that merging the heads needs no copy. Same values and
        gradients as the explicit form up to rounding; no dropout (callers with attention dropout use PyTorch's
        fused attention).
    """
    heads, queries, keys = q.shape[1], q.shape[2], k.shape[2]
    if (bias_left.dim() != 3 or bias_right.dim() != 3 or bias_left.shape[0] not in (1, heads)
            or bias_right.shape[0] not in (1, heads) or bias_left.shape[1] != queries
            or bias_right.shape[2] != keys or bias_left.shape[2] != bias_right.shape[1]):
        raise ValueError(f'biased_attention: the bias factors must be (heads or 1, {queries}, r) and (heads or 1, r, '
                         f'{keys}) for {heads} heads, got {tuple(bias_left.shape)} and {tuple(bias_right.shape)}')
    return _BiasedAttention.apply(q, k, v, bias_left, bias_right, scale)
