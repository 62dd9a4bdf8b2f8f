"""Registration of mmagent modules in the mmdet, mmseg **and** (when installed) mmpretrain model registries.

mmdet 3.x, mmseg 1.x and mmpretrain 1.x each own a child of mmengine's root ``MODELS`` registry. A config built
in the ``mmdet`` scope only looks in ``mmdet.registry.MODELS`` (and the root), and likewise for the others, so
every backbone and attention op is registered in each. Importing ``mmpretrain.registry`` is cheap and needs no
torchvision; mmpretrain's models, datasets and metrics are imported on demand by
:func:`~mmagent.utils.mmpretrain_compat.import_mmpretrain` (see there for torchvision).
"""
from typing import Dict, Optional, Type

from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.registry import Registry
from mmseg.registry import MODELS as MMSEG_MODELS

from .utils.mmpretrain_compat import guard_mmpretrain_registries, mmpretrain_available

__all__ = ['MMDET_MODELS', 'MMSEG_MODELS', 'MMPRETRAIN_MODELS', 'TASK_MODELS', 'register_model']

if mmpretrain_available():
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    guard_mmpretrain_registries()  # their first lookup imports mmpretrain's packages, torchvision or not
else:  # mmpretrain is optional for the detection / segmentation use
    MMPRETRAIN_MODELS = None

# The model registry of each task (default_scope) mmagent works with.
TASK_MODELS: Dict[str, Registry] = {'mmdet': MMDET_MODELS, 'mmseg': MMSEG_MODELS}
if MMPRETRAIN_MODELS is not None:
    TASK_MODELS['mmpretrain'] = MMPRETRAIN_MODELS


def register_model(cls: Optional[Type] = None, *, name: Optional[str] = None):
    """Class decorator: register ``cls`` under ``name`` (default: its class name) in every task's registry."""

    def _register(module_cls: Type) -> Type:
        for registry in TASK_MODELS.values():
            registry.register_module(name=name, module=module_cls)
        return module_cls

    return _register(cls) if cls is not None else _register
