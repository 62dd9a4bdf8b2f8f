"""Add auxiliary losses computed inside a model (LaViT's ``loss_dp``) to the loss dict of ANY mmdet detector
or mmseg segmentor or mmpretrain classifier, from config.

mmdet 3.x / mmseg 1.x backbones cannot return losses. A module that has one implements the small protocol

* ``collect_aux_losses: bool``: set True here, so the module knows someone collects its losses (LaViT skips
  the computation otherwise);
* ``pop_aux_losses() -> Dict[str, Tensor]``: the losses of the last training forward, forgotten once read.

``type='AuxLossWrapper', model_type='MaskRCNN'`` builds the model ``model_type`` with the remaining keys, as a
dynamically created subclass whose ``loss()`` appends those entries. No prefix is added to the parameter
names, so checkpoints stay interchangeable with the plain model. mmengine sums every key containing
``'loss'``, so ``loss_dp`` is back-propagated and logged without other changes.
"""
from typing import Dict, List, Type

import torch
import torch.nn as nn
from mmengine.registry import DefaultScope

from ...registry import TASK_MODELS, register_model
from ...utils.mmpretrain_compat import import_mmpretrain

__all__ = ['AuxLossMixin', 'aux_loss_class', 'aux_loss_wrapper']

_REGISTRIES = TASK_MODELS
_WRAPPED: Dict[Type[nn.Module], Type[nn.Module]] = {}
_SUFFIX = 'WithAuxLoss'


def aux_loss_providers(model: nn.Module) -> List[nn.Module]:
    return [m for m in model.modules() if m is not model and callable(getattr(m, 'pop_aux_losses', None))]


class AuxLossMixin:
    """``loss()`` = the base model's losses + every provider's ``pop_aux_losses()``."""

    def loss(self, *args, **kwargs) -> Dict[str, torch.Tensor]:
        losses = super().loss(*args, **kwargs)
        for provider in aux_loss_providers(self):
            for key, value in provider.pop_aux_losses().items():
                if key in losses:
                    raise KeyError(f'auxiliary loss {key!r} of {type(provider).__name__} collides with a loss of '
                                   f'{type(self).__name__}')
                losses[key] = value
        return losses


def aux_loss_class(base: Type[nn.Module]) -> Type[nn.Module]:
    """The (cached) subclass ``{base.__name__}WithAuxLoss`` of ``base`` with :class:`AuxLossMixin`."""
    if not (isinstance(base, type) and issubclass(base, nn.Module) and callable(getattr(base, 'loss', None))):
        raise TypeError(f'AuxLossWrapper needs a detector/segmentor class with a loss() method, got {base!r}')
    if base not in _WRAPPED:
        name = f'{base.__name__}{_SUFFIX}'
        _WRAPPED[base] = type(name, (AuxLossMixin, base), {'__module__': __name__, '__qualname__': name})
        globals()[name] = _WRAPPED[base]  # importable by name, so wrapped models pickle
    return _WRAPPED[base]


def __getattr__(name: str) -> Type[nn.Module]:
    # Unpickling in a fresh process: rebuild 'MaskRCNNWithAuxLoss' & co. on first access (PEP 562).
    if name.endswith(_SUFFIX) and len(name) > len(_SUFFIX):
        return aux_loss_class(_resolve(name[:-len(_SUFFIX)]))
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def _resolve(model_type: str) -> Type[nn.Module]:
    if 'mmpretrain' in _REGISTRIES:
        import_mmpretrain()  # its classifiers (ImageClassifier) live in mmpretrain.models
    if '.' in model_type:  # 'mmdet.MaskRCNN' / 'mmseg.EncoderDecoder'
        scope, name = model_type.split('.', 1)
        if scope not in _REGISTRIES:
            raise ValueError(f'AuxLossWrapper: unknown scope {scope!r} in model_type={model_type!r}; use one of '
                             f'{sorted(_REGISTRIES)}')
        found = {scope: _REGISTRIES[scope].get(name)}
    else:
        current = DefaultScope.get_current_instance()
        scope = current.scope_name if current is not None else None
        if scope in _REGISTRIES and _REGISTRIES[scope].get(model_type) is not None:
            return _REGISTRIES[scope].get(model_type)
        found = {s: r.get(model_type) for s, r in _REGISTRIES.items()}
    found = {s: c for s, c in found.items() if c is not None}
    if len(found) != 1:
        where = f'none of the registries {sorted(_REGISTRIES)}' if not found else f'several registries {sorted(found)}'
        raise ValueError(f"AuxLossWrapper: model_type={model_type!r} is in {where}; give a detector, segmentor or "
                         f"classifier name, scoped as 'mmdet.NAME' / 'mmseg.NAME' / 'mmpretrain.NAME' if needed")
    return next(iter(found.values()))


@register_model(name='AuxLossWrapper')
def aux_loss_wrapper(model_type: str, **kwargs) -> nn.Module:
    """Build ``model_type`` (e.g. ``'MaskRCNN'``, ``'RetinaNet'``, ``'EncoderDecoder'``) from ``kwargs`` so that
    its ``loss()`` also returns the auxiliary losses of its modules (``loss_dp`` of a LaViT backbone).

    Raises ValueError when no module of the model reports auxiliary losses: wrapping would do nothing.
    """
    model = aux_loss_class(_resolve(model_type))(**kwargs)
    providers = aux_loss_providers(model)
    if not providers:
        raise ValueError(f'AuxLossWrapper: no module of {model_type} reports auxiliary losses (e.g. a LaViT '
                         f'backbone); use type={model_type!r} directly')
    for provider in providers:
        provider.collect_aux_losses = True
    return model
