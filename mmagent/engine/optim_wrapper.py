"""Mixed precision on machines without CUDA.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. ``CPUAutocastOptimWrapper`` runs the forward
pass under ``torch.autocast('cpu', dtype=bfloat16)``; bf16 has fp32's exponent range, so no loss scaling is
needed. ``tools/train.py --amp`` picks it when CUDA is unavailable.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS

__all__ = ['CPUAutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """OptimWrapper whose ``optim_context`` enables CPU autocast (default bfloat16)."""

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        if dtype not in ('bfloat16', 'float16'):
            raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}")
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(device_type='cpu', dtype=self.cast_dtype):
            yield
