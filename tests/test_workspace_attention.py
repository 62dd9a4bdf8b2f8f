"""Softmax attention written out into persistent work buffers (mmagent.models.layers.workspace_attention): same
values and gradients as PyTorch's fused attention, taken exactly where intended, safe across grad modes and
threads."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F

import mmagent.models.layers.workspace_attention as workspace
from mmagent.models.layers import AgentAttention, StripeAttention
from mmagent.models.layers.common import merge_heads, split_heads
from mmagent.models.layers.workspace_attention import (scaled_dot_product_attention, workspace_attention,
                                                       workspace_attention_preferred)


def _inputs(batch, heads, queries, keys, dims, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)  # one per call: the thread test draws concurrently
    # head views of (B, L, C) maps, as the attention ops pass them
    q, k, v = (split_heads(torch.randn(batch, length, heads * width, generator=generator).to(dtype), heads)
               for length, width in ((queries, dims), (keys, dims), (keys, dims + 2)))
    return q, k, v


@pytest.mark.parametrize('elements', [1 << 24, 400, 37], ids=['whole-image', 'head-by-head', 'row-blocks'])
@pytest.mark.parametrize('mask_shape', [None, (1, 3, 50, 17), (2, 1, 50, 17), (50, 17)])
def test_equals_pytorch_attention_with_gradients(monkeypatch, elements, mask_shape):
    monkeypatch.setattr(workspace, 'WORKSPACE_ELEMENTS', elements)  # 37: several row blocks per head
    q, k, v = (t.requires_grad_() for t in _inputs(2, 3, 50, 17, 8))
    mask = None if mask_shape is None else torch.randn(mask_shape, dtype=torch.float64)
    grad = torch.randn(2, 3, 50, 10, dtype=torch.float64)
    results = []
    for fn in (lambda: workspace_attention(q, k, v, 0.3, mask),
               lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)):
        for t in (q, k, v):
            t.grad = None
        out = fn()
        out.backward(grad)
        results.append([out.detach()] + [t.grad.clone() for t in (q, k, v)])
    for ours, ref in zip(*results):
        assert ours.shape == ref.shape
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12)
    out = workspace_attention(q, k, v, 0.3, mask)
    assert out.shape == (2, 3, 50, 10) and merge_heads(out).data_ptr() == out.data_ptr()  # no copy to merge
    q.grad = None
    workspace_attention(q, k.detach(), v.detach(), 0.3, mask).sum().backward()  # only the gradients asked for
    assert q.grad is not None and torch.allclose(q.grad, torch.autograd.grad(
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3).sum(), q)[0])


@pytest.mark.parametrize('elements', [1 << 24, 400, 37], ids=['whole-image', 'head-by-head', 'row-blocks'])
@pytest.mark.parametrize('per_image', [False, True])
def test_learned_mask_gradient(monkeypatch, elements, per_image):
    monkeypatch.setattr(workspace, 'WORKSPACE_ELEMENTS', elements)
    q, k, v = (t.requires_grad_() for t in _inputs(2, 3, 50, 17, 8))
    # a learned bias shared by the batch, or one per image; a transposed view, as the agent attention passes it
    mask = torch.randn(2 if per_image else 1, 3, 17, 50, dtype=torch.float64).transpose(2, 3).requires_grad_()
    grad = torch.randn(2, 3, 50, 10, dtype=torch.float64)
    ours = torch.autograd.grad(workspace_attention(q, k, v, 0.3, mask), (q, k, v, mask), grad)
    ref = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3), (q, k, v, mask),
                              grad)
    for a, b in zip(ours, ref):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_bf16_within_rounding_of_float64():
    q, k, v = _inputs(2, 4, 60, 45, 16, torch.bfloat16)
    mask = torch.randn(1, 4, 60, 45).to(torch.bfloat16)
    out = workspace_attention(q, k, v, 0.25, mask)
    ref = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask.double(), scale=0.25)
    assert out.dtype == torch.bfloat16
    assert F.cosine_similarity(out.double().flatten(), ref.flatten(), 0) > 0.9999
    assert (out.double() - ref).abs().max() < 0.05


def test_buffers_survive_inference_mode_and_threads():
    q, k, v = _inputs(1, 2, 12, 9, 4)
    ref = F.scaled_dot_product_attention(q, k, v, scale=0.5)
    with torch.inference_mode():  # the buffers made here are written again outside inference mode
        first = workspace_attention(q, k, v, 0.5)
    with torch.no_grad():
        second = workspace_attention(q, k, v, 0.5)
    assert torch.equal(first, second) and torch.allclose(first, ref)

    def run(seed):  # each thread its own buffers: concurrent calls of different sizes stay correct
        q, k, v = _inputs(2, 2, 40 + seed, 30 + seed, 8, seed=seed)
        ref = F.scaled_dot_product_attention(q, k, v, scale=0.5)
        return all(torch.allclose(workspace_attention(q, k, v, 0.5), ref) for _ in range(20))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, range(8)))


def test_release_frees_this_threads_buffers():
    from mmagent.models.api import release_workspace
    release_workspace()
    q, k, v = _inputs(1, 2, 12, 9, 4, torch.bfloat16)
    workspace_attention(q, k, v, 0.5)
    assert release_workspace() == 2 * 2 * 12 * 9 * 2  # scores and probabilities, bf16
    assert release_workspace() == 0
    assert torch.allclose(workspace_attention(q, k, v, 0.5).float(),  # made again when needed
                          F.scaled_dot_product_attention(q.float(), k.float(), v.float(), scale=0.5), atol=0.02)


def test_shapes_and_mask_gradient_checked():
    q, k, v = _inputs(1, 2, 5, 6, 4)
    with pytest.raises(ValueError, match=r'q \(1, 2, 5, 4\), k \(1, 2, 6, 4\) and v \(1, 2, 5, 6\) must be'):
        workspace_attention(q, k, v[:, :, :5], 1.)
    with pytest.raises(ValueError, match='the mask is added to the scores and must be torch.float64, got torch.bool'):
        workspace_attention(q, k, v, 1., torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match=r'a mask that needs a gradient must be \(1 or 1, 2, 5, 6\), got \(5, 6\)'):
        workspace_attention(q, k, v, 1., torch.zeros(5, 6, dtype=torch.float64, requires_grad=True))


def test_taken_only_for_bf16_on_a_dot_product_bf16_cpu(monkeypatch):
    q, k, v = (t.to(torch.bfloat16) for t in _inputs(1, 2, 5, 6, 4))
    monkeypatch.setattr(workspace, '_dot_product_bf16_cpu', lambda: True)
    assert workspace_attention_preferred(q, k, v)
    assert not workspace_attention_preferred(q.float(), k.float(), v.float())  # fp32: the fused kernel is faster
    assert not workspace_attention_preferred(q, k, v, dropout_p=0.1)
    keep = torch.ones(5, 6, dtype=torch.bool)
    assert not workspace_attention_preferred(q, k, v, keep)  # a boolean mask: PyTorch's attention
    assert torch.equal(scaled_dot_product_attention(q, k, v, keep), F.scaled_dot_product_attention(q, k, v, keep))
    assert workspace_attention_preferred(q.clone().requires_grad_(), k, v)  # a training step: it has a backward
    mask = torch.zeros(5, 6, dtype=torch.bfloat16, requires_grad=True)
    assert not workspace_attention_preferred(q, k, v, mask)  # a learned mask in a layout it has no gradient for
    assert workspace_attention_preferred(q, k, v, mask.detach().expand(1, 2, 5, 6).clone().requires_grad_())
    with torch.no_grad():
        assert workspace_attention_preferred(q, k, v, mask)
    traced = []
    torch.jit.trace(lambda x: traced.append(workspace_attention_preferred(x, k, v)) or x, q, check_trace=False)
    assert traced == [False]  # a recorder sees the fused op
    monkeypatch.setattr(workspace, '_dot_product_bf16_cpu', lambda: False)  # AMX, or no bf16 units
    assert not workspace_attention_preferred(q, k, v)


def _ops():
    return {'stripe': StripeAttention(32, 2, stripe='horizontal', split_size=3),
            'agent': AgentAttention(32, 2, agent_num=9, agent_shape=(4, 5), pretrain_hw=6)}


@pytest.mark.parametrize('training', [False, True], ids=['inference', 'training'])
@pytest.mark.parametrize('name', ['stripe', 'agent'])
def test_attention_ops_take_it_under_bf16_autocast(monkeypatch, name, training):
    """Inference and training steps, both ops (the agent op twice per call, its learned biases as masks with
    their gradient). Same outputs and gradients up to bf16 rounding."""
    torch.manual_seed(0)
    op = _ops()[name].train(training)
    hw_shape = (7, 10)
    inputs = [torch.randn(2, 70, 32, requires_grad=training) for _ in range(3 if name == 'stripe' else 1)]
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return workspace_attention(*args, **kwargs)

    import mmagent.models.layers.agent_attention as agent_module
    for module in (workspace, agent_module):  # the dispatcher's and the agent training form's
        monkeypatch.setattr(module, 'workspace_attention', counted)
    results = {}
    for taken in (False, True):
        monkeypatch.setattr(workspace, '_dot_product_bf16_cpu', lambda: taken)
        for t in inputs:
            t.grad = None
        with torch.set_grad_enabled(training), torch.autocast('cpu', dtype=torch.bfloat16):
            out = op(*(t.bfloat16() if name == 'stripe' else t for t in inputs), hw_shape)
        if training:
            out.float().square().sum().backward()
        results[taken] = [out.detach().float()] + [t.grad for t in inputs if training]
        assert len(calls) == (2 if name == 'agent' else 1) * taken
    for ours, ref in zip(results[True], results[False]):
        assert F.cosine_similarity(ours.flatten(), ref.flatten(), 0) > 0.999


@pytest.mark.parametrize('agent_shape', [(4, 5), (3, 3)], ids=['downstream-grid', 'pretraining-grid'])
def test_agent_attention_training_form_equals_the_official_computation(monkeypatch, agent_shape):
    """The agent attention's written-out training form (biases as products with the fixed agent-axis resize,
    two masked attentions with their gradients), forced in float64: the naive (official) values and every
    gradient."""
    import mmagent.models.layers.agent_attention as agent_module
    monkeypatch.setattr(agent_module, 'workspace_attention_preferred', lambda *args, **kwargs: True)
    monkeypatch.setattr(agent_module, 'FUSED_TRAINING_DTYPES', ())  # float64 steps take the written-out form
    torch.manual_seed(0)
    ops = [AgentAttention(32, 2, agent_num=9, agent_shape=agent_shape, pretrain_hw=6, mode=mode).double()
           for mode in ('fast', 'naive')]
    with torch.no_grad():
        for param in ops[0].parameters():
            param.add_(torch.randn_like(param) * 0.05)
    ops[1].load_state_dict(ops[0].state_dict())
    hw = (7, 10)
    x = torch.randn(2, 70, 32, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(agent_module, 'workspace_attention',
                        lambda *args: calls.append(1) or workspace_attention(*args))
    results = []
    for op in ops:
        xi = x.clone().requires_grad_()
        out = op(xi, hw)
        out.square().sum().backward()
        results.append([out.detach(), xi.grad] + [p.grad for p in op.parameters()])
    assert len(calls) == 2
    for (name, _), ours, ref in zip([('out', None), ('x', None)] + list(ops[0].named_parameters()), *results):
        assert ours is not None and torch.allclose(ours, ref, rtol=1e-9, atol=1e-12), name


def test_dispatch_forwards_to_pytorch_elsewhere():
    q, k, v = _inputs(1, 2, 5, 6, 4, torch.float32)
    assert torch.equal(scaled_dot_product_attention(q, k, v, scale=0.5),
                       F.scaled_dot_product_attention(q, k, v, scale=0.5))
