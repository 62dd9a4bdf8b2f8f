"""AgentAttention against a literal float64 transcription of docs/design/agent_attention.md."""
import pytest
import torch

from mmagent.models.layers import AgentAttention
from mmagent.registry import MMDET_MODELS, MMSEG_MODELS

from .literal_reference import agent_attention as literal_agent_attention


def _randomise(module, std=0.05):
    with torch.no_grad():
        for param in module.parameters():
            param.add_(torch.randn_like(param) * std)
    return module


def _params(module):
    return {k: v.detach() for k, v in module.state_dict().items()}


@pytest.mark.parametrize('grad', [False, True], ids=['inference', 'training'])
@pytest.mark.parametrize('layout', ['qkv', 'q_kv'])
@pytest.mark.parametrize(
    'hw, agent_shape, pool, pretrain',
    [
        ((56, 56), (3, 3), 3, 56),  # stage 1 at 224, ImageNet agent grid: every resize but 7->56 is identity
        ((56, 56), (9, 9), 3, 56),  # 224 input with the downstream agent grid
        ((25, 37), (12, 12), 4, 28),  # non-square map, agent grid larger than P
        ((7, 10), (28, 28), 7, 7),  # agent grid exceeding the token grid (pooling up-samples)
    ])
def test_matches_literal_spec(hw, agent_shape, pool, pretrain, layout, grad):
    # inference: fused attention with the cached (N, n') biases; training: the low-rank form when the agent grid
    # is larger than P (bias columns appended to Q/K), else the explicit softmax
    heads, dims = 2, 32
    op = AgentAttention(dims, heads, agent_num=pool * pool, agent_shape=agent_shape, pretrain_hw=pretrain,
                        qkv_layout=layout).train(grad)
    _randomise(op)
    x = torch.randn(2, hw[0] * hw[1], dims)
    with torch.set_grad_enabled(grad):
        ours = op(x, hw)
    ref = literal_agent_attention(x, hw, _params(op), heads, pool, agent_shape, layout)
    assert ours.shape == (2, hw[0] * hw[1], dims)
    assert (ours.double() - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize('agent_shape', [(9, 9), (3, 3), (4, 6)], ids=['low-rank', 'explicit', 'low-rank-rect'])
@pytest.mark.parametrize('layout', ['qkv', 'q_kv'])
def test_naive_mode_equals_fast_mode_with_gradients(layout, agent_shape):
    # fast (training): the biases folded into the fused attention as extra Q/K columns when the agent grid is
    # larger than the 3x3 pretraining grid, else the explicit softmax; naive: the official computation
    op = _randomise(AgentAttention(48, 3, agent_num=9, agent_shape=agent_shape, pretrain_hw=56, qkv_layout=layout))
    naive = AgentAttention(48, 3, agent_num=9, agent_shape=agent_shape, pretrain_hw=56, qkv_layout=layout,
                           mode='naive')
    naive.load_state_dict(op.state_dict())
    x = torch.randn(3, 20 * 30, 48, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    out, ref = op(x, (20, 30)), naive(x2, (20, 30))
    assert torch.allclose(out, ref, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    ref.backward(grad)
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)
    for (name, p1), p2 in zip(op.named_parameters(), naive.parameters()):
        assert torch.allclose(p1.grad, p2.grad, atol=1e-4, rtol=1e-4), name


def test_training_step_runs_the_fused_kernel_with_its_backward():
    # the (N, n') biases would need a gradient: with them as a mask, PyTorch's fused attention falls back to its
    # explicit kernel (softmax + backward passes over an N x n' map); the low-rank form keeps the fused kernel
    op = _randomise(AgentAttention(32, 2, agent_num=9, agent_shape=(6, 6), pretrain_hw=14))
    x = torch.randn(2, 14 * 14, 32, requires_grad=True)
    with torch.profiler.profile() as prof:
        op(x, (14, 14)).sum().backward()
    names = {event.name for event in prof.events()}
    assert 'aten::_scaled_dot_product_flash_attention_for_cpu_backward' in names
    assert not {'aten::_softmax', 'aten::_softmax_backward_data'} & names
    assert op.an_bias.grad.abs().sum() > 0 and op.ha_bias.grad.abs().sum() > 0


def test_bf16_training_step_runs_the_explicit_form():
    """Under bf16 autocast a training step takes the explicit softmax form (faster there than the fused kernel's
    backward at head dims 32 + n), with the same gradients as the fp32 step to bf16 rounding."""
    torch.manual_seed(0)
    op = _randomise(AgentAttention(32, 2, agent_num=9, agent_shape=(6, 6), pretrain_hw=14))
    x = torch.randn(2, 14 * 14, 32)
    grads = {}
    for dtype in (torch.float32, torch.bfloat16):
        op.zero_grad()
        xi = x.clone().requires_grad_()
        with torch.profiler.profile() as prof, torch.autocast('cpu', torch.bfloat16, enabled=dtype == torch.bfloat16):
            op(xi, (14, 14)).float().square().sum().backward()
        names = {event.name for event in prof.events()}
        fused = 'aten::_scaled_dot_product_flash_attention_for_cpu_backward' in names
        assert fused == (dtype == torch.float32) and ('aten::_softmax' in names) == (dtype == torch.bfloat16)
        grads[dtype] = [xi.grad.flatten()] + [p.grad.flatten() for p in op._bias_params()]
    for g32, g16 in zip(grads[torch.float32], grads[torch.bfloat16]):
        assert torch.nn.functional.cosine_similarity(g32, g16.float(), dim=0) > 0.999


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_inference_masks_cached_contiguous_in_the_compute_dtype(dtype):
    """At inference the fused attention gets its bias masks cached, contiguous and already in the dtype it runs in
    (bf16 under autocast): no per-call cast or layout copy of an (N, n') mask."""
    from torch.profiler import profile
    op = AgentAttention(32, 2, agent_num=16, agent_shape=(12, 12), pretrain_hw=28).eval()
    x = torch.randn(2, 25 * 37, 32)
    with torch.no_grad(), torch.autocast('cpu', torch.bfloat16, enabled=dtype == torch.bfloat16):
        op(x, (25, 37))
        with profile(record_shapes=True) as prof:
            op(x, (25, 37))
    mask_shapes = ([1, 2, 144, 25 * 37], [1, 2, 25 * 37, 144])
    copies = [e.name for e in prof.events()
              if e.name in ('aten::copy_', 'aten::contiguous', 'aten::_to_copy') and e.input_shapes
              and e.input_shapes[0] in mask_shapes]
    assert not copies
    with torch.no_grad():
        b1, b2 = op.position_biases((25, 37), dtype)
    assert b1.dtype == b2.dtype == dtype and b1.is_contiguous() and b2.is_contiguous()
    assert op.bias_cache.misses == 1 and op.bias_cache.hits >= 2


def test_biases_broadcast_over_batch_and_cache_at_inference():
    op = AgentAttention(32, 2, agent_num=16, agent_shape=(12, 12), pretrain_hw=28).eval()
    b1, b2 = op.position_biases((25, 37))
    # One copy for the whole batch (the official code repeated them: docs/design/agent_attention.md), shapes (1, h, n', N) and (1, h, N, n').
    assert b1.shape == (1, 2, 144, 25 * 37) and b2.shape == (1, 2, 25 * 37, 144)
    with torch.no_grad():
        op(torch.randn(2, 25 * 37, 32), (25, 37))
        op(torch.randn(4, 25 * 37, 32), (25, 37))
    assert op.bias_cache.misses == 1 and op.bias_cache.hits == 1
    # a weight change invalidates the cache
    with torch.no_grad():
        op.an_bias.add_(1.0)
        op(torch.randn(1, 25 * 37, 32), (25, 37))
    assert op.bias_cache.misses == 2
    # training never uses the cache and gradients reach the biases
    op.train()
    op(torch.randn(1, 25 * 37, 32), (25, 37)).sum().backward()
    assert op.an_bias.grad is not None and op.wa_bias.grad.abs().sum() > 0
    assert len(op.bias_cache) == 0


def test_registered_and_buildable_from_config():
    for registry in (MMDET_MODELS, MMSEG_MODELS):
        op = registry.build(dict(type='AgentAttention', embed_dims=32, num_heads=2, agent_num=9,
                                 agent_shape=(5, 7), pretrain_hw=14))
        assert op(torch.randn(1, 11 * 13, 32), (11, 13)).shape == (1, 143, 32)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='perfect square'):
        AgentAttention(32, 2, agent_num=10)
    with pytest.raises(ValueError, match='divisible'):
        AgentAttention(30, 4)
    with pytest.raises(TypeError, match='qk_scale'):
        AgentAttention(32, 2, qk_scale=0.1)
    op = AgentAttention(32, 2, agent_num=9)
    with pytest.raises(ValueError, match='tokens'):
        op(torch.randn(1, 50, 32), (7, 8))
