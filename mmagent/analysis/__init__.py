"""Complexity analysis: FLOPs (fvcore, 1 multiply-accumulate = 1 FLOP) and parameter counts of whole
detectors / segmentors, their backbones, and the ImageNet classification form. See docs/flops.md."""
from .complexity import (CLASSIFICATION_SHAPE, DEFAULT_SHAPES, ClassificationForm, Complexity, build_backbone,
                         build_model, count_flops, default_shape, heads_signature, load_config, measure,
                         measure_parts, resolve_config_path, use_pretraining_agent_grids)
from .handles import EXTRA_HANDLES, ZERO_COST_BY_CONVENTION, skipped_op_note

__all__ = [
    'CLASSIFICATION_SHAPE', 'DEFAULT_SHAPES', 'ClassificationForm', 'Complexity', 'EXTRA_HANDLES',
    'ZERO_COST_BY_CONVENTION', 'build_backbone', 'build_model', 'count_flops', 'default_shape',
    'heads_signature', 'load_config', 'measure', 'measure_parts', 'resolve_config_path', 'skipped_op_note',
    'use_pretraining_agent_grids'
]
