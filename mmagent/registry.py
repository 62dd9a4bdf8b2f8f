"""Registration of mmagent modules in the mmdet **and** mmseg model registries.

mmdet 3.x and mmseg 1.x each own a child of mmengine's root ``MODELS`` registry. A config built in the
``mmdet`` scope only looks in ``mmdet.registry.MODELS`` (and the root), and likewise for ``mmseg``, so every
backbone and attention op is registered in both.
"""
from typing import Optional, Type

from mmdet.registry import MODELS as MMDET_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

__all__ = ['MMDET_MODELS', 'MMSEG_MODELS', 'register_model']


def register_model(cls: Optional[Type] = None, *, name: Optional[str] = None):
    """Class decorator: register ``cls`` under ``name`` (default: its class name) in both registries."""

    def _register(module_cls: Type) -> Type:
        for registry in (MMDET_MODELS, MMSEG_MODELS):
            registry.register_module(name=name, module=module_cls)
        return module_cls

    return _register(cls) if cls is not None else _register
