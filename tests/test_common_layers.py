"""Training-step forms of shared layers (mmagent.models.layers.common): the MLP's GELU -> fc2
(``gelu_linear``: same numbers as autograd's composite, one hidden-sized tensor fewer allocated in the
backward) and the large depthwise convolution's weight gradient (``_DepthwiseConvSame``)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import mmagent.models.layers.common as common
from mmagent.models.layers.common import ConvMlp, Mlp, depthwise_conv_tokens, gelu_linear


class _NewBytes(TorchDispatchMode):
    """Bytes of the op outputs that do not share storage with an input (what the ops allocate)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [a for a in list(args) + list(kwargs.values()) if isinstance(a, torch.Tensor)]
        held = {t.untyped_storage().data_ptr() for t in inputs}
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in held:
                self.bytes += t.untyped_storage().nbytes()
        return out


def _run(fused: bool, dtype: torch.dtype, autocast: bool):
    torch.manual_seed(0)
    linear = nn.Linear(64, 16).to(dtype)
    hidden = torch.randn(3, 50, 64, dtype=dtype, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        h = hidden.to(torch.bfloat16) if autocast else hidden
        out = gelu_linear(h, linear) if fused else linear(F.gelu(h))
    loss = (out.float() * torch.linspace(-1, 1, 16)).sum()
    counter = _NewBytes()
    with counter:
        loss.backward()
    return [out.detach(), hidden.grad, linear.weight.grad, linear.bias.grad], counter.bytes, h


@pytest.mark.parametrize('dtype, autocast', [(torch.float64, False), (torch.float32, False),
                                             (torch.float32, True)])
def test_gelu_linear_equals_the_composite_and_allocates_one_hidden_tensor_less(dtype, autocast):
    fused, fused_bytes, h = _run(True, dtype, autocast)
    composite, composite_bytes, _ = _run(False, dtype, autocast)
    for a, b in zip(fused, composite):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert composite_bytes - fused_bytes >= h.numel() * h.element_size()


@pytest.mark.parametrize('mlp', [Mlp(8, 32), ConvMlp(8, 32, nested_dwconv=False)])
def test_mlps_train_through_gelu_linear(mlp, monkeypatch):
    x = torch.randn(2, 12, 8, requires_grad=True)
    args = (x, (3, 4)) if isinstance(mlp, ConvMlp) else (x,)
    calls = []
    apply = common._GeluLinear.apply
    monkeypatch.setattr(common._GeluLinear, 'apply', lambda *a: calls.append(1) or apply(*a))
    grads = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(common, 'gelu_linear', lambda h, linear: linear(F.gelu(h)))
        mlp.zero_grad()
        x.grad = None
        mlp(*args).square().sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in mlp.parameters()])
    assert calls == [1]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_gelu_linear_under_tracing_records_the_linear():
    """The FLOPs counter traces the model: the traced graph must hold aten::linear, not an opaque function."""
    mlp = Mlp(8, 32)
    graph = torch.jit.trace(mlp, torch.randn(2, 8, requires_grad=True), check_trace=False).inlined_graph
    kinds = {node.kind() for node in graph.nodes()}
    assert 'aten::linear' in kinds and 'prim::PythonOp' not in kinds


@pytest.mark.parametrize('batch, channels, hw, kernel, repeats, fused', [
    (2, 16, (30, 40), 5, 1, True),
    (2, 32, (30, 40), 5, 4, True),   # FLatten's DWC: one kernel shared by the heads
    (3, 8, (25, 17), 7, 1, True),
    (2, 16, (30, 40), 3, 1, False),  # oneDNN's 3x3 weight gradient is the fast one
    (4, 16, (14, 14), 5, 1, False),  # many small maps: the per-image loop would be slower
])
def test_depthwise_conv_weight_gradient_per_image(monkeypatch, batch, channels, hw, kernel, repeats, fused):
    """Same output and gradients as autograd's conv (weight gradient to fp32 rounding), and the per-image form
    is taken exactly where it is the faster one."""
    torch.manual_seed(0)
    conv = nn.Conv2d(channels // repeats, channels // repeats, kernel, padding=kernel // 2, groups=channels // repeats)
    tokens = torch.randn(batch, hw[0] * hw[1], channels, requires_grad=True)
    weights = torch.randn(batch, hw[0] * hw[1], channels)
    calls = []
    apply = common._DepthwiseConvSame.apply
    monkeypatch.setattr(common._DepthwiseConvSame, 'apply', lambda *a: calls.append(1) or apply(*a))
    results = []
    for min_area in (common.PER_IMAGE_WEIGHT_GRAD_MIN_AREA, 10 ** 9):
        monkeypatch.setattr(common, 'PER_IMAGE_WEIGHT_GRAD_MIN_AREA', min_area)
        conv.zero_grad()
        tokens.grad = None
        out = depthwise_conv_tokens(tokens, hw, conv, channel_repeats=repeats)
        (out * weights).sum().backward()
        results.append([out.detach(), tokens.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone()])
    assert len(calls) == int(fused)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())


def test_derived_cache_is_bypassed_while_tracing():
    """The FLOPs counter traces the model at inference: the traced graph must hold the computation of a resized
    bias, not a tensor the cache returned from an earlier call."""
    from mmagent.models.layers.common import DerivedTensorCache
    cache = DerivedTensorCache()
    module = nn.Linear(2, 2).eval()
    source = torch.randn(2, 2)
    calls = []

    def compute():
        calls.append(1)
        return source * 2

    with torch.no_grad():
        cache.get(module, 'key', [source], compute)
        cache.get(module, 'key', [source], compute)
        assert len(calls) == 1
        torch.jit.trace(lambda x: x + cache.get(module, 'key', [source], compute).sum(), torch.randn(2),
                        check_trace=False)
    assert len(calls) == 2
