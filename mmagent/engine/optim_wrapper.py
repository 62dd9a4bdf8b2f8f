"""Mixed precision on machines without CUDA.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. ``CPUAutocastOptimWrapper`` runs the backbone
and neck under ``torch.autocast('cpu', dtype=bfloat16)`` and hands float32 features to the heads: mmcv's CPU
kernels (NMS, RoIAlign, ...) accept float32 only. bf16 has fp32's exponent range, so no loss scaling is
needed. ``tools/train.py --amp`` picks it when CUDA is unavailable. ``CPUAutocastValLoop`` and
``CPUAutocastTestLoop`` do the same for evaluation (``tools/test.py --amp``): mmengine's own ``fp16=True`` loops
would autocast the heads too, whose mmcv CPU kernels then fail on bf16 inputs.
"""
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import LOOPS, OPTIM_WRAPPERS
from mmengine.runner import TestLoop, ValLoop

__all__ = ['CPUAutocastOptimWrapper', 'CPUAutocastValLoop', 'CPUAutocastTestLoop', 'autocast_submodules']

CAST_DTYPES = ('bfloat16', 'float16')


def _cast_dtype(dtype: str) -> torch.dtype:
    if dtype not in CAST_DTYPES:
        raise ValueError(f"dtype must be 'bfloat16' or 'float16', got {dtype!r}")
    return getattr(torch, dtype)


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value


@contextmanager
def autocast_submodules(model: torch.nn.Module, names: Sequence[str], dtype: torch.dtype) -> Iterator[None]:
    """While active, ``model.<name>.forward`` runs under CPU autocast and returns float32 tensors."""
    patched = []
    for name in names:
        module = getattr(model, name, None)
        if not isinstance(module, torch.nn.Module):
            continue
        original = module.__dict__.get('forward')
        bound = module.forward

        def forward(*args, _bound=bound, **kwargs):
            with torch.autocast(device_type='cpu', dtype=dtype):
                return _to_float32(_bound(*args, **kwargs))

        module.forward = forward
        patched.append((module, original))
    try:
        yield
    finally:
        for module, original in patched:
            if original is None:
                del module.forward
            else:
                module.forward = original


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """OptimWrapper whose ``optim_context`` runs ``autocast_modules`` of the model under CPU autocast.

    Args:
        dtype: ``'bfloat16'`` (default) or ``'float16'``.
        autocast_modules: attribute names of the submodules to run in low precision (default: the backbone
            and the neck of mmdet detectors / mmseg segmentors).
        **kwargs: as :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: str = 'bfloat16', autocast_modules: Sequence[str] = ('backbone', 'neck'),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = _cast_dtype(dtype)
        self.autocast_modules = tuple(autocast_modules)

    @contextmanager
    def optim_context(self, model):
        target = model.module if is_model_wrapper(model) else model
        with super().optim_context(model), autocast_submodules(target, self.autocast_modules, self.cast_dtype):
            yield


class _AutocastLoopMixin:
    """A val/test loop whose ``run()`` puts the runner model's ``autocast_modules`` under CPU autocast (float32
    out of them).

    Args:
        runner, dataloader, evaluator: as mmengine's loop.
        dtype: ``'bfloat16'`` (default) or ``'float16'``.
        autocast_modules: submodules run in low precision (default: backbone and neck).
    """

    def __init__(self, runner, dataloader, evaluator, dtype: str = 'bfloat16',
                 autocast_modules: Sequence[str] = ('backbone', 'neck')) -> None:
        super().__init__(runner, dataloader, evaluator)
        self.cast_dtype = _cast_dtype(dtype)
        self.autocast_modules = tuple(autocast_modules)

    def run(self):
        model = self.runner.model
        target = model.module if is_model_wrapper(model) else model
        with autocast_submodules(target, self.autocast_modules, self.cast_dtype):
            return super().run()


@LOOPS.register_module()
class CPUAutocastValLoop(_AutocastLoopMixin, ValLoop):
    """mmengine's ``ValLoop`` with the backbone and neck under CPU autocast (arguments: see the mixin)."""


@LOOPS.register_module()
class CPUAutocastTestLoop(_AutocastLoopMixin, TestLoop):
    """mmengine's ``TestLoop`` with the backbone and neck under CPU autocast (arguments: see the mixin)."""
