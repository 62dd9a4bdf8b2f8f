"""A fix for a torch.compile (Inductor) failure with dynamic input sizes, applied when mmagent compiles.

Inductor (torch 2.13) orders the strides of a graph output that is a view (e.g. a ``permute`` saved for the
backward) with plain Python comparisons of sympy expressions. With a symbolic width ``s0`` a channels-last view
has strides such as ``64*(s0//4)`` and ``64``, which sympy cannot order without the shape environment's ranges:
compilation stops with ``TypeError: cannot determine truth value of Relational: 64*((s0//4)) < 64`` (seen in the
forward graph of Agent-PVT training once the width becomes dynamic). The same function already takes the shape
environment, which orders such strides and records the guard it relies on; Inductor's caller just does not pass
it. :func:`install_inductor_stride_order_fix` makes ``get_stride_order`` use the current graph's shape
environment when its caller gives none and the strides are symbolic. Static strides take the original path.
"""
import inspect

import sympy

__all__ = ['install_inductor_stride_order_fix']


def install_inductor_stride_order_fix() -> bool:
    """Install the fix (idempotent); False if this torch's Inductor has no ``shape_env`` parameter to use."""
    from torch._inductor import ir
    original = ir.get_stride_order
    if getattr(original, 'mmagent_fix', False):
        return True
    if 'shape_env' not in inspect.signature(original).parameters:
        return False

    def get_stride_order(seq, shape_env=None):
        if shape_env is None and not all(isinstance(s, (int, sympy.Integer)) for s in seq):
            from torch._inductor.virtualized import V
            shape_env = V.graph.sizevars.shape_env
        return original(seq, shape_env)

    get_stride_order.mmagent_fix = True
    get_stride_order.__doc__ = original.__doc__
    ir.get_stride_order = get_stride_order
    return True

