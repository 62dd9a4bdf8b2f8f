"""FocusedLinearAttention against a literal float64 transcription of docs/design/flatten_attention.md,
the FLatten backbones at any size, and mixed precision."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmagent.models import FLattenPVT, FLattenSwinTransformer
from mmagent.models.layers import FocusedLinearAttention
from mmagent.models.layers.focused_linear_attention import FocusingFunction, focusing_function
from mmagent.registry import MMDET_MODELS, MMSEG_MODELS

from .literal_reference import focused_linear_attention as literal_fla

SMALL_SWIN = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
SMALL_PVT = dict(embed_dims=(16, 32, 80, 128), depths=(1, 1, 1, 1))


def _randomise(module, std=0.05):
    with torch.no_grad():
        for param in module.parameters():
            param.add_(torch.randn_like(param) * std)
    return module


@pytest.mark.parametrize('layout', ['qkv', 'q_kv'])
@pytest.mark.parametrize('hw, pretrain, pe_interp', [
    ((56, 56), (56, 56), 'bicubic'),  # the 224 grid: no resize
    ((25, 37), (28, 28), 'bicubic'),  # non-square, encoding resized
    ((13, 9), (14, 14), 'bilinear'),
])
def test_matches_literal_spec(hw, pretrain, pe_interp, layout):
    op = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=pretrain, qkv_layout=layout, pe_interp=pe_interp))
    op.eval()
    x = torch.randn(2, hw[0] * hw[1], 32)
    params = {k: v.detach() for k, v in op.state_dict().items()}
    ref = literal_fla(x, hw, params, heads=2, pretrain_hw=pretrain, layout=layout, pe_mode=pe_interp)
    ours = op(x, hw)
    assert ours.shape == x.shape
    assert (ours.double() - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize('op_cls', ['FocusedLinearAttention', 'FLattenSwinTransformer'])
def test_float64_stays_float64(op_cls):
    """fp32_attention leaves float64 alone: in float64 the fast form equals the literal one to float64 rounding,
    not to fp32's."""
    torch.manual_seed(0)
    if op_cls == 'FocusedLinearAttention':
        op = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=(14, 14))).eval().double()
        x = torch.randn(2, 13 * 9, 32, dtype=torch.float64)
        params = {k: v.detach() for k, v in op.state_dict().items()}
        ref = literal_fla(x, (13, 9), params, heads=2, pretrain_hw=(14, 14))
        ours = op(x, (13, 9))
    else:
        model = _randomise(FLattenSwinTransformer(**SMALL_SWIN, attn_type='LLSS')).eval().double()
        x = torch.randn(1, 3, 64, 96, dtype=torch.float64)
        with torch.no_grad():
            ours = model(x)[1]
            model_naive = FLattenSwinTransformer(**SMALL_SWIN, attn_type='LLSS', attn_mode='naive').double()
            model_naive.load_state_dict(model.state_dict())
            ref = model_naive.eval()(x)[1]
    assert ours.dtype == torch.float64
    assert (ours - ref).abs().max().item() <= 1e-12


def test_dwc_is_shared_across_heads():
    # perturbing one head's V changes, through the DWC, only that head's output channels.
    op = _randomise(FocusedLinearAttention(32, 4, pretrain_hw=8))
    d = 8
    v = torch.randn(1, 64, 32)
    maps = v.reshape(1, 8, 8, 4, d).permute(0, 3, 4, 1, 2).reshape(4, d, 8, 8)
    base = op.dwc(maps)
    v2 = v.clone()
    v2[..., 2 * d:3 * d] += 1.0  # head 2
    maps2 = v2.reshape(1, 8, 8, 4, d).permute(0, 3, 4, 1, 2).reshape(4, d, 8, 8)
    changed = (op.dwc(maps2) - base).abs().flatten(1).sum(1) > 0
    assert changed.tolist() == [False, False, True, False]
    assert op.dwc.weight.shape == (d, 1, 5, 5)


def test_mean_form_equals_sum_form():
    # the mean / N^-1/2 form is the plain ratio Q(KᵀV) / (Q Σ K), only the ε moves (float64).
    torch.manual_seed(3)
    n = 400
    divisor = F.softplus(torch.zeros(1, 1, 48, dtype=torch.float64))
    q, k = (focusing_function(torch.randn(2, n, 48, dtype=torch.float64), divisor, 3).reshape(2, n, 3, 16)
            .transpose(1, 2) for _ in range(2))
    v = torch.randn(2, 3, n, 16, dtype=torch.float64)

    def mean_form(eps):
        return (q @ ((k.transpose(-2, -1) * n**-0.5) @ (v * n**-0.5))) / (
            q @ k.mean(-2, keepdim=True).transpose(-2, -1) + eps)

    def sum_form(eps):
        return (q @ (k.transpose(-2, -1) @ v)) / (q @ k.sum(-2, keepdim=True).transpose(-2, -1) + eps)

    assert torch.allclose(mean_form(0), sum_form(0), rtol=1e-10, atol=1e-12)
    # the ε of the mean form equals an ε of N·1e-6 in the sum form (the original code added 1e-6 to the sum:
    # only for heads whose φ(q) is ~0 does the placement matter)
    assert torch.allclose(mean_form(1e-6), sum_form(n * 1e-6), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('power', [3, 2.5])
def test_focusing_function_hand_backward_is_the_gradient(power):
    """The hand-written backward of φ against finite differences (float64), for the input and the divisor."""
    torch.manual_seed(0)
    t = torch.randn(2, 9, 12, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(1, 1, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t, scale: FocusingFunction.apply(t, F.softplus(scale), power), (t, scale))


def _saved_bytes(fn, *args):
    """Bytes of the distinct storages autograd keeps for the backward of ``fn(*args)`` (leaf inputs included)."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn(*args)
    return out, sum(storages.values())


def test_focusing_function_training_form_keeps_less_and_matches_autograd():
    """In a training step φ runs as FocusingFunction: the same values and gradients as autograd's composite
    (FocusedLinearAttention in 'naive' mode), but only its input and φ (which the attention keeps anyway) are
    kept for the backward; the composite keeps three full-size intermediates."""
    torch.manual_seed(0)
    t = torch.randn(2, 500, 32, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(1, 1, 32, dtype=torch.float64, requires_grad=True)
    full = t.numel() * t.element_size()
    grad_out = torch.randn_like(t)
    results = {}
    for hand in (True, False):
        out, kept = _saved_bytes(lambda: focusing_function(t, F.softplus(scale), 3, hand_backward=hand))
        assert (out.grad_fn.name() == 'FocusingFunctionBackward') == hand
        grads = torch.autograd.grad(out, (t, scale), grad_out)
        results[hand] = (out, kept, grads)
    (out, kept, grads), (ref_out, ref_kept, ref_grads) = results[True], results[False]
    assert torch.allclose(out, ref_out, atol=1e-12, rtol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-10, rtol=1e-10) for a, b in zip(grads, ref_grads))
    assert kept < 2.1 * full < 3 * full < ref_kept


def test_training_gradients_of_fast_mode_match_naive_mode():
    torch.manual_seed(0)
    fast = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=(14, 14))).double().train()
    naive = copy.deepcopy(fast)
    naive.mode = 'naive'
    x = torch.randn(2, 15 * 11, 32, dtype=torch.float64)
    grads = []
    for op in (fast, naive):
        xi = x.clone().requires_grad_()
        op(xi, (15, 11)).square().sum().backward()
        grads.append([xi.grad] + [param.grad for param in op.parameters()])
    assert all(torch.allclose(a, b, atol=1e-10, rtol=1e-8) for a, b in zip(*grads))


def test_bf16_training_gradients_follow_fp32():
    """Under bf16 autocast the written-out backward of φ gives the gradients of the fp32 step to bf16 rounding
    (cosine ≥ 0.999 for the input and every parameter)."""
    torch.manual_seed(0)
    op = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=(14, 14))).train()
    ref = copy.deepcopy(op)
    x = torch.randn(2, 15 * 11, 32)
    grads = []
    for module, amp in ((op, True), (ref, False)):
        xi = x.clone().requires_grad_()
        with torch.autocast('cpu', torch.bfloat16, enabled=amp):
            out = module(xi, (15, 11))
        assert out.dtype == (torch.bfloat16 if amp else torch.float32)
        out.float().square().sum().backward()
        grads.append([xi.grad] + [param.grad for param in module.parameters()])
    for bf16_grad, fp32_grad in zip(*grads):
        assert F.cosine_similarity(bf16_grad.flatten().float(), fp32_grad.flatten(), 0) >= 0.999


def test_per_head_form_equals_the_head_split_form_without_its_copies():
    """The fast form runs the heads on channel slices of the (B, N, C) maps: the same values and gradients as the
    head-split form (float64), without its (B, h, N, d) copies of φ(Q) (twice), φ(K) and V kept for the
    backward (a training step of the whole op keeps at least two full-size tensors less)."""
    torch.manual_seed(0)
    op = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=(14, 14))).double().train()
    x = torch.randn(2, 15 * 20, 32, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(2, 15 * 20, 32, dtype=torch.float64)
    full = x.numel() * x.element_size()
    results = []
    for split in (False, True):
        if split:
            op._linear_attention_per_head = op._linear_attention_split_heads
        out, kept = _saved_bytes(op, x, (15, 20))
        results.append((out, kept, torch.autograd.grad(out, [x] + list(op.parameters()), grad_out)))
    (out, kept, grads), (ref_out, ref_kept, ref_grads) = results
    assert torch.allclose(out, ref_out, atol=1e-12, rtol=1e-10)
    assert all(torch.allclose(a, b, atol=1e-12, rtol=1e-9) for a, b in zip(grads, ref_grads))
    assert ref_kept - kept >= 2 * full


def test_fp16_core_stays_finite_where_the_sum_form_overflows():
    # CPU half arithmetic of the attention core at COCO stage-1 size (N = 200 x 334), inputs at 100x scale.
    torch.manual_seed(0)
    n, c = 200 * 334, 32
    op = FocusedLinearAttention(c, 1, pretrain_hw=(200, 334)).half()
    q, k, v = (torch.randn(1, n, c) * 100).half(), (torch.randn(1, n, c) * 100).half(), torch.randn(1, n, c).half()
    out = op._linear_attention(q.float(), k.float(), v.float())  # the fp32 island, as used under autocast
    assert torch.isfinite(out).all()
    # the original un-scaled sum form in fp16 overflows (why the island and the scaled form exist)
    divisor = F.softplus(op.scale.float()).half()
    qf, kf = focusing_function(q, divisor, 3), focusing_function(k, divisor, 3)
    sum_form = qf @ (kf.transpose(-2, -1) @ v)
    assert not torch.isfinite(sum_form).all()


@pytest.mark.parametrize('fp32_attention, autocast_dtype, phi_dtype', [
    ('fp16', torch.bfloat16, torch.bfloat16),  # the default: bf16 (fp32's range) runs natively
    (True, torch.bfloat16, torch.float32),
    ('fp16', None, torch.float32),  # no autocast: fp32 stays fp32
])
def test_focusing_function_dtype_under_autocast(monkeypatch, fp32_attention, autocast_dtype, phi_dtype):
    """Which dtype φ runs in: under bf16 autocast the default keeps Q and K in bf16 (the positional encoding
    must not promote K to fp32); fp32_attention=True raises them; the outputs agree to bf16 rounding."""
    import mmagent.models.layers.focused_linear_attention as fla
    seen = []

    def recording(t, divisor, power, hand_backward=True):
        seen.append(t.dtype)
        return focusing_function(t, divisor, power, hand_backward)

    monkeypatch.setattr(fla, 'focusing_function', recording)
    torch.manual_seed(0)
    op = _randomise(FocusedLinearAttention(32, 2, pretrain_hw=(14, 14), fp32_attention=fp32_attention)).eval()
    x = torch.randn(2, 25 * 37, 32)
    with torch.no_grad():
        ref = op(x, (25, 37))
        seen.clear()
        with torch.autocast('cpu', dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            out = op(x, (25, 37))
    assert seen == [phi_dtype, phi_dtype]
    assert F.cosine_similarity(out.float().flatten(), ref.flatten(), dim=0) > 0.999


def test_fp16_raised_to_fp32_by_default():
    """fp16 inputs (whose range t^p overflows) compute φ, z and KᵀV in fp32 by default."""
    import mmagent.models.layers.focused_linear_attention as fla
    op = FocusedLinearAttention(32, 2, pretrain_hw=(14, 14)).eval()
    assert op._computes_in_fp32(torch.float16) and not op._computes_in_fp32(torch.bfloat16)
    assert not FocusedLinearAttention(32, 2, fp32_attention=False)._computes_in_fp32(torch.float16)
    with pytest.raises(ValueError, match='fp32_attention'):
        FocusedLinearAttention(32, 2, fp32_attention='bf16')
    assert fla.FocusedLinearCore._computes_in_fp32(op, torch.float64) is False


@pytest.mark.slow
@pytest.mark.parametrize('cls, arch', [(FLattenSwinTransformer, 't'), (FLattenSwinTransformer, 's'),
                                       (FLattenSwinTransformer, 'b'), (FLattenPVT, 't'), (FLattenPVT, 's'),
                                       (FLattenPVT, 'm'), (FLattenPVT, 'l')])
def test_bf16_autocast_finite_for_every_backbone(cls, arch):
    model = cls(arch=arch, drop_path_rate=0.)
    model.train()
    x = torch.randn(1, 3, 64, 96) * 100  # 100x the normalised input range
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
        loss = sum(o.float().pow(2).mean() for o in outs)
    loss.backward()
    assert all(torch.isfinite(o).all() for o in outs)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_linear_stages_are_global_with_resized_encoding():
    model = FLattenSwinTransformer(**SMALL_SWIN).eval()
    attn = model.layers[0].blocks[1].attn
    assert isinstance(attn, FocusedLinearAttention)
    # one map, no windows: a token far away influences the output at the top-left corner
    x = torch.randn(1, 50 * 74, 16)
    y = x.clone()
    y[0, -1] += 10.0
    with torch.no_grad():
        assert not torch.allclose(attn(x, (50, 74))[0, 0], attn(y, (50, 74))[0, 0])
        pe = attn.positional_encoding_at((50, 74))
    assert pe.shape == (1, 50 * 74, 16)
    grid = attn.positional_encoding.reshape(1, 56, 56, 16).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, (50, 74), mode='bicubic', align_corners=False).flatten(2).transpose(1, 2)
    assert torch.equal(pe, expected)


def test_encoding_cached_at_inference_only():
    op = FocusedLinearAttention(16, 1, pretrain_hw=14).eval()
    with torch.no_grad():
        op(torch.randn(1, 100, 16), (10, 10))
        op(torch.randn(2, 100, 16), (10, 10))
    assert op.pe_cache.hits == 1 and op.pe_cache.misses == 1
    op.train()
    op(torch.randn(1, 100, 16), (10, 10)).sum().backward()
    assert op.positional_encoding.grad.abs().sum() > 0


def test_registered_and_arguments_checked():
    for registry in (MMDET_MODELS, MMSEG_MODELS):
        op = registry.build(dict(type='FocusedLinearAttention', embed_dims=16, num_heads=2, pretrain_hw=7))
        assert op(torch.randn(1, 35, 16), (5, 7)).shape == (1, 35, 16)
        registry.build(dict(type='FLattenPVT', **SMALL_PVT))
    with pytest.raises(ValueError, match=r"unknown arch 'q'.*'t', 's', 'm', 'l'"):
        FLattenPVT(arch='q')
    with pytest.raises(ValueError, match='pe_interp'):
        FocusedLinearAttention(16, 2, pe_interp='nearest')
    with pytest.raises(TypeError):
        FLattenSwinTransformer(la_sr_ratios='8421')


@pytest.mark.parametrize('kernel, grad, conv_dtype', [(5, True, torch.float32), (5, False, torch.bfloat16),
                                                      (3, True, torch.bfloat16)])
def test_depthwise_conv_dtype_under_bf16_autocast(monkeypatch, kernel, grad, conv_dtype):
    """A depthwise conv larger than 3x3 that records a backward runs in fp32 under bf16 autocast (oneDNN's bf16
    backward of it is 2-3.5x slower on the CPU); inference and 3x3 convs stay bf16; the tokens stay bf16."""
    from mmagent.models.layers.common import depthwise_conv_tokens
    seen = []
    conv2d = F.conv2d

    def recording(x, *args, **kwargs):
        seen.append(x.dtype)
        return conv2d(x, *args, **kwargs)

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 8, kernel, padding=kernel // 2, groups=8)
    x = torch.randn(2, 12 * 10, 16)
    ref = depthwise_conv_tokens(x, (12, 10), conv, channel_repeats=2)
    monkeypatch.setattr(F, 'conv2d', recording)
    tokens = x.to(torch.bfloat16).requires_grad_(grad)
    with torch.set_grad_enabled(grad), torch.autocast('cpu', torch.bfloat16):
        out = depthwise_conv_tokens(tokens, (12, 10), conv, channel_repeats=2)
    assert seen == [conv_dtype] and out.dtype == torch.bfloat16
    assert F.cosine_similarity(out.float().flatten(), ref.detach().flatten(), dim=0) > 0.999
    if grad:
        out.float().square().sum().backward()
        assert conv.weight.grad is not None and tokens.grad.dtype == torch.bfloat16
