"""ONNX export of mmagent models with dynamic batch, height and width (``tools/deployment/export_onnx.py``).

What exports: the backbone alone, a detector's backbone + neck (its feature pyramid), and a whole segmentor's
logits (UperNet, Semantic FPN). The box heads of detectors need RoIAlign and NMS in the graph, which is
mmdeploy's job, not this module's.

The exported graph is PyTorch's TorchScript-based exporter (``dynamo=False``) with ``dynamic_axes``: the
mmagent modules build every size-dependent tensor from the traced input size while a graph is captured
(:mod:`mmagent.models.layers.export`). mmseg's pyramid pooling (``nn.AdaptiveAvgPool2d`` to 1, 2, 3, 6 cells)
has no ONNX form for a map the grid does not divide: :func:`make_exportable` swaps those modules for the
equivalent matrix form before export.
"""
import warnings
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .models.layers.export import adaptive_avg_pool2d
from .models.layers.window_attention import ShiftedWindowAttention

__all__ = ['PARTS', 'ExportableAdaptiveAvgPool2d', 'make_exportable', 'part_of', 'check_export_size', 'export_onnx',
           'verification_sizes', 'compare_with_onnxruntime']

PARTS = ('backbone', 'features', 'model')


class ExportableAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` that exports for any input size (the matrix form while a graph is captured)."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.output_size
        size = (size, size) if isinstance(size, int) else tuple(x.shape[-2 + i] if s is None else s
                                                                 for i, s in enumerate(size))
        return adaptive_avg_pool2d(x, size)


def make_exportable(model: nn.Module) -> int:
    """Replace every ``nn.AdaptiveAvgPool2d`` in ``model`` (in place); returns how many were replaced."""
    replaced = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is nn.AdaptiveAvgPool2d:
                setattr(module, child_name, ExportableAdaptiveAvgPool2d(child.output_size))
                replaced += 1
    return replaced


class _Backbone(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.backbone = model.backbone if hasattr(model, 'backbone') else model

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.backbone(x))


class _Features(nn.Module):
    """A detector's ``extract_feat``: backbone + neck."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.model.extract_feat(x))


class _SegmentorLogits(nn.Module):
    """A segmentor's logits at the input resolution (mmseg's ``encode_decode`` without the data samples)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model.decode_head(self.model.extract_feat(x))
        return F.interpolate(logits, size=x.shape[2:], mode='bilinear',
                             align_corners=self.model.decode_head.align_corners)


def part_of(model: nn.Module, part: str, task: str) -> nn.Module:
    """The module to export: ``backbone``, ``features`` (mmdet: backbone + neck) or ``model`` (mmseg logits)."""
    if part not in PARTS:
        raise ValueError(f'part must be one of {PARTS}, got {part!r}')
    if part == 'backbone':
        return _Backbone(model).eval()
    if part == 'features':
        if not hasattr(model, 'extract_feat'):
            raise ValueError(f'--part features needs a detector or segmentor, got {type(model).__name__}')
        return _Features(model).eval()
    if task != 'mmseg':
        raise ValueError('--part model exports whole segmentors only: a detector\'s box and mask heads need '
                         'RoIAlign and NMS in the graph, which is mmdeploy\'s job. Export its feature pyramid '
                         'with --part features and run the heads in PyTorch, or use mmdeploy.')
    return _SegmentorLogits(model).eval()


def check_export_size(module: nn.Module, shape: Tuple[int, int]) -> None:
    """Refuse an export size at which a shifted-window block drops its shift (a map no larger than the window,
    as Swin does): the traced graph would keep that choice for every size. Runs one forward at ``shape``."""
    small: List[str] = []
    hooks = []
    for name, attn in module.named_modules():
        if isinstance(attn, ShiftedWindowAttention) and attn.shift_size and attn.no_shift_on_small_map:
            def check(_, args, name=name, window=attn.window_size):
                if min(int(v) for v in args[1]) <= window:
                    small.append(f'{name} ({int(args[1][0])}x{int(args[1][1])} map, window {window})')
            hooks.append(attn.register_forward_pre_hook(check))
    try:
        with torch.no_grad():
            module(torch.zeros(1, 3, *shape))
    finally:
        for hook in hooks:
            hook.remove()
    if small:
        raise ValueError(f'export size {shape[0]}x{shape[1]} is too small: at it, shifted-window blocks see maps '
                         f'no larger than their window and skip the shift, and the exported graph would skip it '
                         f'at every size: {", ".join(small[:3])}. Export at a larger --shape (the graph then '
                         f'holds for inputs at least that large).')


def export_onnx(module: nn.Module, path: str, shape: Tuple[int, int], opset: int = 17) -> List[str]:
    """Export ``module`` (eval mode) for an input of ``shape`` with dynamic batch, H and W; returns the output
    names."""
    example = torch.randn(1, 3, *shape)
    with torch.no_grad():
        outputs = module(example)
    count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    names = [f'output{i}' for i in range(count)] if count > 1 else ['output']
    axes: Dict[str, Dict[int, str]] = {'input': {0: 'batch', 2: 'height', 3: 'width'}}
    axes.update({n: {0: 'batch', 2: f'{n}_height', 3: f'{n}_width'} for n in names})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings about Python ints: sizes are rebuilt from tensors
        torch.onnx.export(module, (example, ), path, dynamo=False, opset_version=opset, input_names=['input'],
                          output_names=names, dynamic_axes=axes, do_constant_folding=True)
    return names


def verification_sizes(shape: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Three sizes other than the export size, none smaller: non-square, odd, and both."""
    h, w = shape
    return [(h + 32, w + 96), (h + 33, w + 65), (h + 95, w + 1)]


def compare_with_onnxruntime(path: str, module: nn.Module, sizes: Sequence[Tuple[int, int]],
                             batch: int = 1, seed: int = 0) -> List[float]:
    """Max |ONNX Runtime - PyTorch| over all outputs, per input size."""
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(seed)
    diffs = []
    for h, w in sizes:
        x = torch.randn(batch, 3, h, w, generator=generator)
        with torch.no_grad():
            expected = module(x)
        expected = expected if isinstance(expected, (tuple, list)) else (expected, )
        got = session.run(None, {'input': x.numpy()})
        if len(got) != len(expected):
            raise RuntimeError(f'{path}: ONNX Runtime returned {len(got)} outputs, PyTorch {len(expected)}')
        diffs.append(max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected)))
    return diffs
