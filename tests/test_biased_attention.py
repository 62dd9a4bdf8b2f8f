"""Blocked softmax attention with a learned bias (mmagent.models.layers.biased_attention) and the Agent-Swin
training form built on it: same values and gradients as the explicit form, taken exactly where intended."""
import pytest
import torch

import mmagent.models.layers.biased_attention as biased
from mmagent.models.layers import AgentAttention
from mmagent.models.layers.agent_attention import AgentAttentionCore
from mmagent.models.layers.biased_attention import biased_attention
from mmagent.models.layers.common import merge_heads, split_heads


def _explicit(q, k, v, left, right, scale):
    return torch.softmax(scale * q @ k.transpose(-2, -1) + left @ right, dim=-1) @ v


@pytest.mark.parametrize('block_elements', [1 << 21, 150], ids=['one-block', 'many-blocks'])
@pytest.mark.parametrize('per_head_left', [True, False])
@pytest.mark.parametrize('queries, keys', [(37, 53), (53, 5)])
def test_equals_the_explicit_form_with_gradients(monkeypatch, block_elements, queries, keys, per_head_left):
    monkeypatch.setattr(biased, 'BLOCK_ELEMENTS', block_elements)  # 150: several row blocks, a short last one
    torch.manual_seed(0)
    batch, heads, dims, value_dims = 3, 2, 16, 8
    # head views of (B, L, C) maps, as the attention layers pass them
    q = split_heads(torch.randn(batch, queries, heads * dims, dtype=torch.float64), heads).requires_grad_()
    k = split_heads(torch.randn(batch, keys, heads * dims, dtype=torch.float64), heads).requires_grad_()
    v = split_heads(torch.randn(batch, keys, heads * value_dims, dtype=torch.float64), heads).requires_grad_()
    # a bias factor per head on one side, one factor shared by the heads on the other (both orders)
    left = torch.randn(heads if per_head_left else 1, queries, 4, dtype=torch.float64).requires_grad_()
    right = torch.randn(1 if per_head_left else heads, 4, keys, dtype=torch.float64).requires_grad_()
    grad = torch.randn(batch, heads, queries, value_dims, dtype=torch.float64)
    results = []
    for fn in (biased_attention, _explicit):
        for t in (q, k, v, left, right):
            t.grad = None
        out = fn(q, k, v, left, right, 0.3)
        out.backward(grad)
        results.append([out.detach()] + [t.grad.clone() for t in (q, k, v, left, right)])
    for ours, ref in zip(*results):
        assert ours.shape == ref.shape
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12)
    out = biased_attention(q, k, v, left, right, 0.3)
    assert merge_heads(out).data_ptr() == out.data_ptr()  # heads merge without a copy


def test_bias_gradient_only_when_asked_and_shapes_checked():
    q, k, v = (torch.randn(2, 2, 6, 4, requires_grad=True) for _ in range(3))
    left, right = torch.randn(1, 6, 3), torch.randn(2, 3, 6, requires_grad=True)
    biased_attention(q, k, v, left, right, 1.).sum().backward()
    assert left.grad is None and right.grad.abs().sum() > 0 and q.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r'must be \(heads or 1, 6, r\) and \(heads or 1, r, 6\) for 2 heads, '
                                         r'got \(1, 6, 3\) and \(3, 3, 6\)'):
        biased_attention(q, k, v, left, torch.randn(3, 3, 6), 1.)


def _agent_op(**kwargs):
    # head dim 16 < agent_num 25 and an agent grid larger than the 5 x 5 pretraining one: Agent-Swin's stage 3
    op = AgentAttention(32, 2, agent_num=25, agent_shape=(7, 8), pretrain_hw=10, **kwargs).double()
    with torch.no_grad():
        for param in op.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return op


def _forms_run(op, x, hw):
    with torch.profiler.profile() as prof:
        op(x, hw).square().sum().backward()
    names = {event.name for event in prof.events()}
    return '_BiasedAttention' in names, 'aten::_scaled_dot_product_flash_attention_for_cpu_backward' in names


def test_agent_attention_trains_through_it_where_the_agents_outnumber_the_head_dim():
    torch.manual_seed(0)
    op = _agent_op()
    naive = _agent_op(mode='naive')
    naive.load_state_dict(op.state_dict())
    hw = (12, 17)
    x = torch.randn(2, hw[0] * hw[1], 32, dtype=torch.float64)
    grads = []
    for module in (op, naive):
        xi = x.clone().requires_grad_()
        module(xi, hw).square().sum().backward()
        grads.append([xi.grad] + [p.grad for p in module.parameters()])
    for (name, _), ours, ref in zip([('x', None)] + list(op.named_parameters()), *grads):
        assert torch.allclose(ours, ref, rtol=1e-9, atol=1e-12), name
    assert _forms_run(op, x, hw) == (True, False)
    # attention dropout: the folded form, whose SDPA call has it; inference: the cached-mask fused form
    assert not _forms_run(_agent_op(attn_drop=0.1), x, hw)[0]
    with torch.no_grad():
        blocked_calls = []
        original = AgentAttentionCore._attend_blocked
        try:
            AgentAttentionCore._attend_blocked = lambda *a: blocked_calls.append(1) or original(*a)
            op.eval()(x, hw)
        finally:
            AgentAttentionCore._attend_blocked = original
        assert not blocked_calls


def test_agent_attention_fold_kept_where_the_head_dim_is_wider():
    op = AgentAttention(64, 2, agent_num=9, agent_shape=(6, 6), pretrain_hw=9).double()
    x = torch.randn(1, 81, 64, dtype=torch.float64)
    assert _forms_run(op, x, (9, 9)) == (False, True)
