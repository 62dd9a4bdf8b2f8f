"""bf16 inference attention written out into persistent work buffers (mmagent.models.layers.inference_attention):
same values as PyTorch's fused attention, taken exactly where intended, safe across grad modes and threads."""
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F

import mmagent.models.layers.inference_attention as inference
from mmagent.models.layers import AgentAttention, StripeAttention
from mmagent.models.layers.common import merge_heads, split_heads
from mmagent.models.layers.inference_attention import (scaled_dot_product_attention, workspace_attention,
                                                       workspace_attention_preferred)


def _inputs(batch, heads, queries, keys, dims, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)  # one per call: the thread test draws concurrently
    # head views of (B, L, C) maps, as the attention ops pass them
    q, k, v = (split_heads(torch.randn(batch, length, heads * width, generator=generator).to(dtype), heads)
               for length, width in ((queries, dims), (keys, dims), (keys, dims + 2)))
    return q, k, v


@pytest.mark.parametrize('workspace', [1 << 24, 400, 37], ids=['whole-image', 'head-by-head', 'row-blocks'])
@pytest.mark.parametrize('mask_shape', [None, (1, 3, 50, 17), (2, 1, 50, 17), (50, 17)])
def test_equals_pytorch_attention(monkeypatch, workspace, mask_shape):
    monkeypatch.setattr(inference, 'WORKSPACE_ELEMENTS', workspace)
    q, k, v = _inputs(2, 3, 50, 17, 8)
    mask = None if mask_shape is None else torch.randn(mask_shape, dtype=torch.float64)
    out = workspace_attention(q, k, v, 0.3, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    assert out.shape == ref.shape == (2, 3, 50, 10)
    assert torch.allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert merge_heads(out).data_ptr() == out.data_ptr()  # heads merge without a copy


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


def test_shapes_checked():
    q, k, v = _inputs(1, 2, 5, 6, 4)
    with pytest.raises(ValueError, match=r'q \(1, 2, 5, 4\), k \(1, 2, 6, 4\) and v \(1, 2, 5, 6\) must be'):
        workspace_attention(q, k, v[:, :, :5], 1.)


def test_taken_only_for_bf16_inference_on_a_dot_product_bf16_cpu(monkeypatch):
    q, k, v = (t.to(torch.bfloat16) for t in _inputs(1, 2, 5, 6, 4))
    monkeypatch.setattr(inference, '_dot_product_bf16_cpu', lambda: True)
    assert workspace_attention_preferred(q, k, v)
    assert not workspace_attention_preferred(q.float(), k.float(), v.float())  # fp32: the fused kernel is faster
    assert not workspace_attention_preferred(q, k, v, dropout_p=0.1)
    assert not workspace_attention_preferred(q.clone().requires_grad_(), k, v)  # a backward is recorded
    with torch.no_grad():
        assert workspace_attention_preferred(q.clone().requires_grad_(), k, v)
    traced = []
    torch.jit.trace(lambda x: traced.append(workspace_attention_preferred(x, k, v)) or x, q, check_trace=False)
    assert traced == [False]  # a recorder sees the fused op
    monkeypatch.setattr(inference, '_dot_product_bf16_cpu', lambda: False)  # AMX, or no bf16 units
    assert not workspace_attention_preferred(q, k, v)


@pytest.mark.parametrize('op', [
    pytest.param(lambda: StripeAttention(32, 2, stripe='horizontal', split_size=3), id='stripe'),
    pytest.param(lambda: AgentAttention(32, 2, agent_num=9, agent_shape=(4, 5), pretrain_hw=6), id='agent'),
])
def test_attention_ops_take_it_under_bf16_autocast(monkeypatch, op):
    torch.manual_seed(0)
    op = op().eval()
    hw_shape = (7, 10)
    q, k, v = (torch.randn(2, 70, 32) for _ in range(3))
    calls = []

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return workspace_attention(*args, **kwargs)

    monkeypatch.setattr(inference, 'workspace_attention', counted)
    outputs = {}
    for taken in (False, True):
        monkeypatch.setattr(inference, '_dot_product_bf16_cpu', lambda: taken)
        with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
            if isinstance(op, StripeAttention):
                out = op(q.bfloat16(), k.bfloat16(), v.bfloat16(), hw_shape)
            else:
                out = op(q, hw_shape)
        outputs[taken] = out.float()
        assert len(calls) == (2 if isinstance(op, AgentAttention) else 1) * taken
    assert F.cosine_similarity(outputs[True].flatten(), outputs[False].flatten(), 0) > 0.9999


def test_dispatch_forwards_to_pytorch_elsewhere():
    q, k, v = _inputs(1, 2, 5, 6, 4, torch.float32)
    assert torch.equal(scaled_dot_product_attention(q, k, v, scale=0.5),
                       F.scaled_dot_product_attention(q, k, v, scale=0.5))
