"""Counting: FLOPs and parameter counts of mmdet / mmseg models and their backbones, on fvcore's
``FlopCountAnalysis`` (1 multiply-accumulate = 1 FLOP), under one convention that reproduces the published
baselines (Swin-T Mask R-CNN 267 G, Swin-T UperNet 945 G; see docs/flops.md):

* **detection** (``default_scope='mmdet'``): an image of 1280×800 (H×W) by default, padded by the model's
  own data preprocessor (to /32 for Mask R-CNN). Counted: backbone, neck, the RPN head's convolutions and
  the RoI heads on ``max_per_img`` (1000) fixed proposals; the mask head sees the first 100 RoIs, as
  ``StandardRoIHead.forward`` does; in a cascade every stage's bbox head sees the 1000 proposals and every
  stage's mask head the first 100. Proposal generation and NMS are post-processing and not counted. This
  is the convention of mmdet 2.x's ``forward_dummy`` (1000 proposals), and it reproduces the Swin README's
  267 G for Swin-T to 0.01%.
* **segmentation** (``default_scope='mmseg'``): 512×2048 by default; ``EncoderDecoder._forward``, i.e.
  backbone + decode head. The auxiliary head (training only) and the final resize to the input size are not
  counted, as in mmseg's ``get_flops``.
* **classification** (``default_scope='mmpretrain'``, the ImageNet configs): the test pipeline's image size;
  backbone, neck and head to the class scores.
* **backbone only**: the backbone on the same (padded) input.
* **classification form**: the backbone returning its last stage only (Swin-style backbones thus apply
  just the last output norm, which is the classification model's final norm), global average pooling and a
  ``num_classes`` linear classifier, at 224×224 by default. Agent-attention ops use their pretraining agent
  grid (P×P: 3-4-7-7 in the released models), which is the ImageNet form (docs/design/agent_attention.md).

Parameters are always every parameter of the module counted (the whole model includes mmseg's auxiliary
head: it is part of the trained checkpoint and of the published parameter counts).

Resized position biases and encodings are cached by ``DerivedTensorCache`` at inference, but never while
tracing, so every count includes the interpolations that a first forward at that size performs.
"""
import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from fvcore.nn import FlopCountAnalysis
from mmengine.config import Config

from ..models.api import use_pretraining_agent_grids
from ..utils.config import load_config, task_of
from .build import ClassificationForm, build_backbone, build_model, default_shape, dummy_batch, in_eval_mode
from .handles import EXTRA_HANDLES
from .report import Complexity

__all__ = ['count_flops', 'fixed_proposals', 'heads_signature', 'measure', 'measure_parts']

HW = Tuple[int, int]


def count_flops(module: nn.Module, inputs: Tuple[Any, ...]) -> FlopCountAnalysis:
    """fvcore's analysis of ``module(*inputs)`` with mmagent's extra handles, run under ``no_grad``."""
    analysis = FlopCountAnalysis(module, inputs).set_op_handle(**EXTRA_HANDLES)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        analysis.total()  # traces now, without autograd buffers
    return analysis


def _result(analysis: FlopCountAnalysis, root: nn.Module, shape: HW, input_shape: HW, mode: str, task: str,
            seconds: float, config: str, notes: List[str]) -> Complexity:
    module_params = {name: sum(p.numel() for p in m.parameters()) for name, m in root.named_modules()}
    return Complexity(
        flops=int(analysis.total()), params=module_params[''], shape=tuple(shape), input_shape=tuple(input_shape),
        mode=mode, task=task, config=config, by_module=dict(analysis.by_module()), module_params=module_params,
        uncalled=sorted(analysis.uncalled_modules()), by_operator=dict(analysis.by_operator()),
        skipped=dict(analysis.unsupported_ops()), notes=notes, seconds=seconds)


def fixed_proposals(num: int, height: int, width: int) -> torch.Tensor:
    """``num`` deterministic boxes (x1, y1, x2, y2) inside the image. Their values only steer RoIAlign's
    sampling, which is not counted, so any boxes give the same count."""
    gen = torch.Generator().manual_seed(0)
    size = torch.rand(num, 2, generator=gen) * torch.tensor([width / 2., height / 2.]) + 16
    top_left = torch.rand(num, 2, generator=gen) * (torch.tensor([float(width), float(height)]) - size).clamp(min=1)
    return torch.cat([top_left, top_left + size], dim=1)


def _num_proposals(cfg: Config) -> int:
    """RPN proposals kept per image at test time (``test_cfg.rpn.max_per_img``, 1000 in Mask R-CNN)."""
    rpn_test = (cfg.model.get('test_cfg') or {}).get('rpn') or {}
    return int(rpn_test.get('max_per_img', 1000))


def _task_forward(model: nn.Module, task: str, data_samples: list, inputs: torch.Tensor,
                  num_proposals: int) -> Tuple[Callable[..., Any], Tuple[Any, ...], str]:
    """(forward, its inputs, description) of the counted computation of a whole model."""
    if task == 'mmdet':
        from mmdet.models.detectors import TwoStageDetector
        from mmengine.structures import InstanceData
        from mmdet.models.roi_heads import CascadeRoIHead
        from mmdet.structures.bbox import bbox2roi
        if isinstance(model, TwoStageDetector) and model.with_rpn and isinstance(model.roi_head, CascadeRoIHead):
            roi_head = model.roi_head

            def forward(batch: torch.Tensor, proposals: torch.Tensor) -> tuple:
                # mmdet 2.x's CascadeRoIHead.forward_dummy: every stage's bbox head on all proposals, every
                # stage's mask head on the first 100 (mmdet 3.x's forward runs the mask heads on all of them).
                feats = model.extract_feat(batch)
                rois = bbox2roi([proposals])
                outs = []
                for stage in range(roi_head.num_stages):
                    bbox = roi_head._bbox_forward(stage, feats, rois)
                    outs += [bbox['cls_score'], bbox['bbox_pred']]
                if roi_head.with_mask:
                    outs += [roi_head._mask_forward(stage, feats, rois[:100])['mask_preds']
                             for stage in range(roi_head.num_stages)]
                return model.rpn_head(feats), tuple(outs)

            proposals = fixed_proposals(num_proposals, *inputs.shape[-2:])
            mask = ', each mask head on the first 100' if roi_head.with_mask else ''
            return forward, (inputs, proposals), (
                f'cascade detector: RPN head convolutions + the {roi_head.num_stages} stages\' bbox heads on '
                f'{num_proposals} proposals{mask} (NMS, box refinement not counted)')
        if isinstance(model, TwoStageDetector) and model.with_rpn:

            def forward(batch: torch.Tensor, proposals: torch.Tensor) -> tuple:
                feats = model.extract_feat(batch)
                rpn_outs = model.rpn_head(feats)
                return rpn_outs, model.roi_head(feats, [InstanceData(bboxes=proposals)], data_samples)

            proposals = fixed_proposals(num_proposals, *inputs.shape[-2:])
            mask = ', the mask head on the first 100' if getattr(model.roi_head, 'with_mask', False) else ''
            return forward, (inputs, proposals), (f'two-stage detector: RPN head convolutions + RoI heads on '
                                                  f'{num_proposals} proposals{mask} (NMS not counted)')
    if task == 'mmpretrain':
        return ((lambda batch: model.head(model.extract_feat(batch))), (inputs, ),
                f'{type(model).__name__}: backbone, neck and head to the class scores (no softmax)')
    return ((lambda batch: model._forward(batch, data_samples)), (inputs, ),
            f'{type(model).__name__}._forward: network forward without post-processing')


@contextmanager
def _forward_replaced(model: nn.Module, forward: Callable[..., Any]) -> Iterator[None]:
    """Trace ``forward`` with ``model`` as the root module, so module names stay 'backbone', 'neck', ..."""
    model.forward = forward
    try:
        yield
    finally:
        del model.forward


def _scoped_forward(forward: Callable[..., Any], scope: str) -> Callable[..., Any]:
    def scoped(*args: Any, **kwargs: Any) -> Any:
        state = torch._C._get_tracing_state()
        if state:
            state.push_scope(scope)
        try:
            return forward(*args, **kwargs)
        finally:
            if state:
                state.pop_scope()

    return scoped


@contextmanager
def _heads_scoped(model: nn.Module) -> Iterator[None]:
    """OpenMMLab models call some heads' ``forward`` directly (``decode_head.forward(x)``), which skips the module
    hooks fvcore uses to attribute operators to modules: the totals stay right, but the head's own functional
    ops (e.g. UPerHead's resizes) would land on the root. Route those calls through the head's scope."""
    patched = []
    for name, child in model.named_children():
        members = (child.named_children() if isinstance(child, (nn.ModuleList, nn.ModuleDict)) else [('', child)])
        for sub, module in members:
            patched.append((module, module.__dict__.get('forward')))
            module.forward = _scoped_forward(module.forward, f'{name}.{sub}' if sub else name)
    try:
        yield
    finally:
        for module, previous in patched:
            del module.forward
            if previous is not None:
                module.forward = previous


def _count_whole(model: nn.Module, cfg: Config, task: str, inputs: torch.Tensor, data_samples: list,
                 num_proposals: Optional[int]) -> Tuple[FlopCountAnalysis, str]:
    proposals = num_proposals if num_proposals is not None else _num_proposals(cfg)
    forward, args, what = _task_forward(model, task, data_samples, inputs, proposals)
    with _forward_replaced(model, forward), _heads_scoped(model):
        return count_flops(model, args), what


def measure(cfg: Union[Config, str],
            shape: Optional[Sequence[int]] = None,
            mode: str = 'model',
            num_proposals: Optional[int] = None,
            num_classes: int = 1000) -> Complexity:
    """Count one config. ``mode``: 'model' (whole detector/segmentor), 'backbone' or 'classification'."""
    if mode not in ('model', 'backbone', 'classification'):
        raise ValueError(f"mode must be 'model', 'backbone' or 'classification', got {mode!r}")
    config_name = cfg if isinstance(cfg, str) else cfg.filename or ''
    cfg = load_config(cfg) if isinstance(cfg, str) else cfg
    task = task_of(cfg)
    shape = tuple(shape) if shape is not None else default_shape(cfg, mode)
    notes: List[str] = []
    start = time.perf_counter()
    if mode == 'classification':
        backbone = build_backbone(cfg, last_stage_only=True)
        changed = use_pretraining_agent_grids(backbone)
        if changed:
            notes.append(f'{changed} agent-attention op(s) set to their pretraining agent grid')
        inputs = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            channels = ClassificationForm.last_map(backbone(inputs)).shape[1]
        root = in_eval_mode(ClassificationForm(backbone, channels, num_classes))
        notes.append(f'classification form: last stage, global average pool, Linear({channels}, {num_classes})')
        analysis = count_flops(root, (inputs, ))
    else:
        model = build_model(cfg)
        inputs, data_samples = dummy_batch(model, task, shape)
        if mode == 'backbone':
            root = model.backbone
            analysis = count_flops(root, (inputs, ))
        else:
            root = model
            analysis, what = _count_whole(model, cfg, task, inputs, data_samples, num_proposals)
            notes.append(what)
    return _result(analysis, root, shape, tuple(inputs.shape[-2:]), mode, task, time.perf_counter() - start,
                   config_name, notes)


class _FeatureStub(nn.Module):
    """Stands in for a backbone: returns zero features of recorded shapes, at no FLOPs."""

    def __init__(self, shapes: Sequence[torch.Size]) -> None:
        super().__init__()
        self.shapes = [tuple(s) for s in shapes]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(x.new_zeros(s) for s in self.shapes)


def heads_signature(cfg: Config, input_shape: HW, feature_shapes: Sequence[Tuple[int, ...]],
                    num_proposals: Optional[int]) -> str:
    """Everything a heads-only count depends on: the model config without backbone, preprocessing and
    training settings, the input size, the backbone's output shapes and the proposal count."""

    def strip(node: Any) -> Any:  # '_scope_' records where a config came from, not what it builds
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != '_scope_'}
        return [strip(v) for v in node] if isinstance(node, (list, tuple)) else node

    model_cfg = {k: strip(v) for k, v in cfg.model.to_dict().items()
                 if k not in ('backbone', 'data_preprocessor', 'train_cfg', 'init_cfg', '_scope_')}
    return json.dumps([task_of(cfg), model_cfg, list(input_shape), [list(s) for s in feature_shapes],
                       num_proposals if num_proposals is not None else _num_proposals(cfg)],
                      sort_keys=True, default=repr)


# Backbone settings that do not change an inference forward (its FLOPs): ignored by backbone_signature.
_TRAINING_ONLY_KEYS = ('init_cfg', 'drop_path_rate', 'drop_rate', 'attn_drop_rate', 'frozen_stages', 'norm_eval',
                       'with_cp', '_scope_', '_delete_')


def backbone_signature(cfg: Config, input_shape: HW) -> str:
    """Everything a backbone-only count depends on: the backbone config without its training-only settings,
    and the (padded) input size."""
    backbone = {k: v for k, v in cfg.model.backbone.to_dict().items() if k not in _TRAINING_ONLY_KEYS}
    return json.dumps([backbone, list(input_shape)], sort_keys=True, default=repr)


def measure_parts(cfg: Union[Config, str],
                  shape: Optional[Sequence[int]] = None,
                  num_proposals: Optional[int] = None,
                  heads_cache: Optional[Dict[str, Complexity]] = None,
                  backbone_cache: Optional[Dict[str, Tuple[Complexity, list]]] = None
                  ) -> Tuple[Complexity, Complexity]:
    """The whole-model count in two exact parts: (backbone, everything else). The second part counts the
    whole model with the backbone replaced by a stub returning features of the backbone's output shapes.

    ``heads_cache`` (signature -> count) reuses the heads count of configs whose non-backbone parts, input
    size and feature shapes are identical; ``backbone_cache`` reuses the backbone count of configs with the
    same backbone and input size (e.g. one backbone under Mask R-CNN, Cascade and RetinaNet).
    ``backbone.flops + heads.flops`` equals ``measure(cfg).flops`` (tests/test_flops.py checks it).
    """
    config_name = cfg if isinstance(cfg, str) else cfg.filename or ''
    cfg = load_config(cfg) if isinstance(cfg, str) else cfg
    task = task_of(cfg)
    shape = tuple(shape) if shape is not None else default_shape(cfg)
    start = time.perf_counter()
    model = build_model(cfg)
    inputs, data_samples = dummy_batch(model, task, shape)
    input_shape = tuple(inputs.shape[-2:])

    backbone_key = backbone_signature(cfg, input_shape)
    if backbone_cache is not None and backbone_key in backbone_cache:
        backbone, shapes = backbone_cache[backbone_key]
    else:
        shapes: List[torch.Size] = []
        hook = model.backbone.register_forward_hook(
            lambda _m, _i, out: shapes.extend(t.shape for t in ([out] if isinstance(out, torch.Tensor) else out)))
        try:
            backbone_analysis = count_flops(model.backbone, (inputs, ))
        finally:
            hook.remove()
        backbone = _result(backbone_analysis, model.backbone, shape, input_shape, 'backbone', task,
                           time.perf_counter() - start, config_name, [])
        if backbone_cache is not None:
            backbone_cache[backbone_key] = (backbone, shapes)

    key = heads_signature(cfg, input_shape, shapes, num_proposals)
    if heads_cache is not None and key in heads_cache:
        return backbone, heads_cache[key]
    start = time.perf_counter()
    real_backbone = model.backbone
    model.backbone = _FeatureStub(shapes)
    try:
        analysis, what = _count_whole(model, cfg, task, inputs, data_samples, num_proposals)
        heads = _result(analysis, model, shape, input_shape, 'heads', task, time.perf_counter() - start,
                        config_name, [what, 'backbone replaced by its output shapes'])
    finally:
        model.backbone = real_backbone
    heads.params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('backbone.'))
    if heads_cache is not None:
        heads_cache[key] = heads
    return backbone, heads

