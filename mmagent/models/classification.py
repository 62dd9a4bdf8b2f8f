"""Official ImageNet classifiers as mmpretrain ``ImageClassifier`` models (docs/design/checkpoints.md).

Every official classification model ends the same way: the last stage's tokens, an optional final LayerNorm,
the mean over tokens, a Linear classifier. In mmpretrain terms that is

    ImageClassifier(backbone=<mmagent backbone, out_indices=(last,)>, neck=GlobalAveragePooling,
                    head=LinearClsHead)

with the final norm being the backbone's output norm of the last stage wherever the family has one:

=========  ==============================  ==========================================================
layout     official final norm             in the classifier
=========  ==============================  ==========================================================
swin       ``norm`` (on stage-4 tokens)    ``backbone.norm3`` (mmagent's stage-4 output norm)
cswin      ``norm`` (on stage-4 tokens)    ``backbone.norm3``
pvtv2      ``norm4`` (a stage norm)        ``backbone.norm4``, unchanged
pvt        none (FLatten-PVT's ``norm``    nothing: the key is dropped and reported, since the
           is built but never called)      official forward never uses it
lavit      ``norm4`` (a stage norm)        ``backbone.norm4`` (mmagent's own checkpoints)
=========  ==============================  ==========================================================

``head.{weight,bias}`` become ``head.fc.*``, every other key gets the ``backbone.`` prefix, and the Swin
``attn_mask`` buffers (rebuilt at run time) are dropped. The result then loads *strictly*: any other
missing, unexpected or mis-shaped key raises :class:`~mmagent.utils.checkpoint.CheckpointError`.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log

from ..utils.checkpoint import CheckpointError
from .converters import LAYOUT_DROPS, load_converted

__all__ = ['CLASSIFIER_FINAL_NORMS', 'is_official_classifier_state_dict', 'convert_official_classifier',
           'load_official_classifier', 'classifier_backbone']

# Where the official final norm goes: a backbone module name ('{last}' = index of the last stage), None for
# the layouts whose final norm is a stage norm the backbone already has, or 'unused' when the official model
# builds a final norm that its forward never calls.
CLASSIFIER_FINAL_NORMS: Dict[str, Optional[str]] = {
    'swin': 'norm{last}', 'cswin': 'norm{last}', 'pvt': 'unused', 'pvtv2': None, 'lavit': None}


def classifier_backbone(model: nn.Module) -> Optional[nn.Module]:
    """The mmagent backbone of an mmpretrain classifier (``backbone`` + ``head.fc``), else None."""
    backbone = getattr(model, 'backbone', None)
    head = getattr(model, 'head', None)
    if getattr(backbone, 'checkpoint_layout', '') and isinstance(getattr(head, 'fc', None), nn.Linear):
        return backbone
    return None


def is_official_classifier_state_dict(state_dict: Dict[str, torch.Tensor]) -> bool:
    """An official (or mmagent-converted backbone-only) layout: a classifier ``head.weight`` and no
    ``backbone.``-prefixed key."""
    return 'head.weight' in state_dict and not any(k.startswith('backbone.') for k in state_dict)


def convert_official_classifier(state_dict: Dict[str, torch.Tensor],
                                backbone: nn.Module) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Official classification keys -> the mmpretrain classifier's; returns (converted, dropped keys)."""
    layout = backbone.checkpoint_layout
    if layout not in CLASSIFIER_FINAL_NORMS:
        raise ValueError(f'unknown checkpoint layout {layout!r}; expected one of {sorted(CLASSIFIER_FINAL_NORMS)}')
    final_norm = CLASSIFIER_FINAL_NORMS[layout]
    if final_norm not in (None, 'unused'):
        final_norm = final_norm.format(last=backbone.num_stages - 1)
    suffixes = LAYOUT_DROPS[layout]['suffix']
    converted, dropped = {}, []
    for key, value in state_dict.items():
        if key.startswith('head.') and key.count('.') == 1:
            converted[f'head.fc.{key[len("head."):]}'] = value
        elif key in ('norm.weight', 'norm.bias') and final_norm is not None:
            if final_norm == 'unused':
                dropped.append(key)
            else:
                converted[f'backbone.{final_norm}.{key[len("norm."):]}'] = value
        elif suffixes and key.endswith(suffixes):
            dropped.append(key)
        else:
            converted[f'backbone.{key}'] = value
    return converted, dropped


def load_official_classifier(model: nn.Module, state_dict: Dict[str, torch.Tensor],
                             source: str = 'checkpoint', strict: bool = True) -> Dict[str, List[str]]:
    """Convert an official classification state dict and load it into ``model`` (an mmpretrain classifier with
    an mmagent backbone); every key is accounted for (see the module docstring)."""
    backbone = classifier_backbone(model)
    if backbone is None:
        raise CheckpointError(f'{source}: {type(model).__name__} is not a classifier with an mmagent backbone and a '
                              f'linear head (head.fc)')
    converted, dropped = convert_official_classifier(state_dict, backbone)
    report = load_converted(model, converted, set(), source, strict)
    report['dropped'] = sorted(dropped)
    lines = [f'{type(model).__name__}: loaded {len(converted)} tensors of the official classification layout from '
             f'{source}']
    if dropped:
        lines.append(f'  dropped (rebuilt at run time, or unused by the official forward): {", ".join(sorted(dropped))}')
    if report['regenerated']:
        lines.append(f'  rebuilt buffers: {len(report["regenerated"])} relative_position_index')
    print_log('\n'.join(lines), logger='current')
    return report
