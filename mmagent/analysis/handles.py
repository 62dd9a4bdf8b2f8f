"""fvcore operator handles that mmagent adds to ``FlopCountAnalysis``'s defaults, and the list of operators
that stay uncounted on purpose.

Convention (the papers' fvcore convention, docs/flops.md): one
multiply-accumulate is one FLOP. fvcore's defaults already count conv, linear, matmul, bmm, mm, addmm,
einsum, the norms, nearest / bilinear upsampling (1 / 4 per output element) and adaptive average pooling
(1 per input element). The handles below extend the same rules to interpolation and attention operators that
fvcore 0.1.5 does not know: an interpolation costs one MAC per tap and output element (bicubic: 4×4 taps),
and fused attention kernels cost what their unfused equivalent is counted at.
"""
from math import prod
from typing import Any, Dict, List

from fvcore.nn.jit_handles import Handle, elementwise_flop_counter, get_shape

__all__ = ['EXTRA_HANDLES', 'ZERO_COST_BY_CONVENTION', 'skipped_op_note']


def _baddbmm_flop(inputs: List[Any], outputs: List[Any]) -> int:
    """``baddbmm(bias, b1, b2)``: (B, n, k) @ (B, k, m) -> B·n·k·m MACs (the added bias is element-wise)."""
    batch, n, k = get_shape(inputs[1])
    m = get_shape(inputs[2])[-1]
    return batch * n * k * m


def _sdpa_flop(inputs: List[Any], outputs: List[Any]) -> int:
    """``scaled_dot_product_attention(q, k, v, ...)``: Q·Kᵀ and P·V, i.e. (…, L, d) x (…, S, d) x (…, S, d_v)
    -> prod(…)·L·S·(d + d_v) MACs. The softmax is element-wise and not counted, as for unfused attention."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = prod(q[:-2])
    length, dims = q[-2], q[-1]
    return batch * length * k[-2] * (dims + v[-1])


def _native_mha_flop(inputs: List[Any], outputs: List[Any]) -> int:
    """``nn.MultiheadAttention``'s inference fast path (taken in eval mode without gradients, i.e. while
    counting): Q/K/V and output projections plus Q·Kᵀ and P·V, as the unfused path counts them."""
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    batch, length, dims = query
    source = key[-2]
    return batch * ((length + 2 * source) * dims * dims + 2 * length * source * dims + length * dims * dims)


EXTRA_HANDLES: Dict[str, Handle] = {
    # FocusedLinearAttention resizes its positional encoding bicubically (4×4 taps per output element).
    'aten::upsample_bicubic2d': elementwise_flop_counter(0, 16),
    'aten::upsample_linear1d': elementwise_flop_counter(0, 2),
    'aten::upsample_trilinear3d': elementwise_flop_counter(0, 8),
    'aten::upsample_nearest1d': elementwise_flop_counter(0, 1),
    'aten::upsample_nearest3d': elementwise_flop_counter(0, 1),
    'aten::adaptive_avg_pool1d': elementwise_flop_counter(1, 0),
    'aten::adaptive_avg_pool3d': elementwise_flop_counter(1, 0),
    'aten::baddbmm': _baddbmm_flop,
    'aten::scaled_dot_product_attention': _sdpa_flop,
    'aten::_native_multi_head_attention': _native_mha_flop,
}

# Operators fvcore reports as "skipped" that cost no multiply-accumulates under the convention: element-wise
# arithmetic and activations, softmax, reductions, vector norms, data movement and random numbers.
ZERO_COST_BY_CONVENTION = frozenset({
    'aten::add', 'aten::add_', 'aten::sub', 'aten::sub_', 'aten::rsub', 'aten::mul', 'aten::mul_', 'aten::div',
    'aten::div_', 'aten::neg', 'aten::reciprocal', 'aten::pow', 'aten::sqrt', 'aten::rsqrt', 'aten::exp',
    'aten::log', 'aten::log2', 'aten::abs', 'aten::sin', 'aten::cos', 'aten::softmax', 'aten::log_softmax',
    'aten::gelu', 'aten::silu', 'aten::sigmoid', 'aten::tanh', 'aten::hardswish', 'aten::hardsigmoid',
    'aten::softplus', 'aten::leaky_relu', 'aten::elu', 'aten::relu6', 'aten::hardtanh', 'aten::sum',
    'aten::mean', 'aten::norm', 'aten::linalg_vector_norm', 'aten::frobenius_norm', 'aten::cumsum',
    'aten::fill_', 'aten::zero_', 'aten::ne', 'aten::lt', 'aten::le', 'aten::where', 'aten::pad',
    'aten::im2col', 'aten::col2im', 'aten::repeat', 'aten::expand_as', 'aten::clone', 'aten::rand',
    'aten::randn', 'aten::normal', 'aten::max_pool2d', 'aten::feature_dropout', 'aten::dropout_',
    'aten::alias', 'aten::new_ones', 'aten::masked_fill_', 'aten::lift_fresh', 'aten::scalar_tensor',
    'aten::topk', 'aten::sort', 'aten::argmax', 'aten::min', 'aten::minimum', 'aten::maximum',
    'aten::exponential_', 'aten::bernoulli_', 'aten::erf', 'aten::square', 'aten::clamp_min',
    'aten::unflatten', 'aten::flip', 'aten::tile', 'aten::split_with_sizes', 'aten::movedim', 'aten::addcmul',
    'aten::addcmul_',
})

# Counted nowhere although they do arithmetic; the note says how much it is for the default models.
_KNOWN_UNCOUNTED = {
    'prim::PythonOp.RoIAlignFunction': 'mmcv RoIAlign (bilinear sampling of the RoI bins; data-dependent '
                                       'sampling grid, about 0.1% of a Mask R-CNN at 1280x800)',
}


def skipped_op_note(op: str) -> str:
    """A short explanation of why an operator fvcore skipped carries no count."""
    if op in _KNOWN_UNCOUNTED:
        return _KNOWN_UNCOUNTED[op]
    if op in ZERO_COST_BY_CONVENTION:
        return 'zero by convention (element-wise / data movement)'
    return 'NOT COUNTED: no handle for this operator'
