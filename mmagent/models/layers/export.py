"""Graphs that hold for every input size: ONNX export with dynamic H and W, ``torch.compile(dynamic=True)``.

Eager mode takes shortcuts on the input size: no padding when a map divides the window, no resize when a map
has the pretraining size, cached masks and biases. A captured graph (an ONNX export, ``torch.compile``) would
freeze those decisions at the example's size, so while :func:`capturing_graph` is
true the modules always pad and crop (by zero when nothing is needed), always resize (the identity at the
stored size), build masks from comparisons with the traced size, and bypass their caches. Results are the
same; only the graph differs.

PyTorch's ONNX exporter cannot export ``adaptive_avg_pool2d`` to a grid that does not divide the input ("input
size not accessible"): ONNX has no adaptive pooling. Adaptive average pooling is linear, though: with
PyTorch's bin edges (cell ``i`` of ``P`` over a length ``L`` covers ``[⌊i·L/P⌋, ⌈(i+1)·L/P⌉)``) it is
``R_h · X · R_wᵀ`` with row-averaging matrices ``R`` built from the input's size by integer arithmetic on
tensors, which the exporter records as ``Shape``-dependent nodes. :func:`adaptive_avg_pool2d` runs PyTorch's
kernel in eager mode and the matrix form while a graph is captured.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F

__all__ = [
    'capturing_graph', 'recording_graph', 'adaptive_avg_pool2d', 'adaptive_pool_matrix', 'adaptive_avg_pool2d_by_matrices'
]


def capturing_graph() -> bool:
    """True while ``torch.onnx.export`` or ``torch.compile`` records the model. A plain ``torch.jit.trace`` (the
    FLOPs counter) is not included: it must count the eager computation."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


def recording_graph() -> bool:
    """True while any recorder runs the model: :func:`capturing_graph`, or ``torch.jit`` tracing or scripting.
    Hand-written autograd functions, caches and in-place layouts give way to the plain ops there, which a
    recorder sees op by op."""
    return capturing_graph() or torch.jit.is_tracing() or torch.jit.is_scripting()


def adaptive_pool_matrix(length: Union[int, torch.Tensor], cells: int, dtype: torch.dtype,
                         device: torch.device) -> torch.Tensor:
    """(cells, length) matrix whose row ``i`` averages PyTorch's adaptive-pooling bin ``i``."""
    # ``length`` stays what it is (an int, a traced size, a symbolic size): converting it would freeze it.
    index = torch.arange(cells, device=device).unsqueeze(1)
    start = torch.div(index * length, cells, rounding_mode='floor')
    end = torch.div((index + 1) * length + cells - 1, cells, rounding_mode='floor')
    position = torch.arange(length, device=device).unsqueeze(0)  # arange of a traced size stays dynamic
    inside = (position >= start) & (position < end)
    return inside.to(dtype) / (end - start).to(dtype)


def adaptive_avg_pool2d_by_matrices(x: torch.Tensor, output_size: Tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` of (..., H, W) as two small matmuls (exportable with dynamic H, W)."""
    cells_h, cells_w = output_size
    rows = adaptive_pool_matrix(x.shape[-2], cells_h, x.dtype, x.device)
    cols = adaptive_pool_matrix(x.shape[-1], cells_w, x.dtype, x.device)
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


def adaptive_avg_pool2d(x: torch.Tensor, output_size: Union[int, Tuple[int, int]]) -> torch.Tensor:
    """``F.adaptive_avg_pool2d``, exported as the matrix form (same bins, same result up to rounding)."""
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if capturing_graph():
        return adaptive_avg_pool2d_by_matrices(x, size)
    return F.adaptive_avg_pool2d(x, size)
