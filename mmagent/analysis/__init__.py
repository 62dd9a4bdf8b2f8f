"""Complexity and speed analysis of mmdet / mmseg models and mmagent backbones: ``build`` (models from a
config), ``flops`` (counting, fvcore convention: 1 multiply-accumulate = 1 FLOP; see docs/flops.md),
``report`` (the result and its formatting) and ``benchmark`` (latency and memory against baselines)."""
from ..utils.config import load_config, resolve_config_path
from .build import (CLASSIFICATION_SHAPE, DEFAULT_SHAPES, ClassificationForm, build_backbone, build_model,
                    default_shape)
from .flops import count_flops, heads_signature, measure, measure_parts
from .handles import EXTRA_HANDLES, ZERO_COST_BY_CONVENTION, skipped_op_note
from .report import Complexity

__all__ = [
    'CLASSIFICATION_SHAPE', 'DEFAULT_SHAPES', 'ClassificationForm', 'Complexity', 'EXTRA_HANDLES',
    'ZERO_COST_BY_CONVENTION', 'build_backbone', 'build_model', 'count_flops', 'default_shape',
    'heads_signature', 'load_config', 'measure', 'measure_parts', 'resolve_config_path', 'skipped_op_note'
]
