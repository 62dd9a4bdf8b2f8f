"""Import mmpretrain 1.2 without torchvision.

mmpretrain imports torchvision at module level in four files (two data transforms, a box helper and a
visual-grounding metric), although nothing an ImageNet classification config uses needs it: mmpretrain's
own ``RandomResizedCrop``, ``ResizeEdge``, ``RandAugment``, ``RandomErasing``, Mixup/CutMix and
``PackInputs`` of numpy images are torchvision-free. torchvision cannot be installed beside the project's
CPU torch (it pulls another torch), so while mmpretrain's packages are imported, minimal stand-in modules
take its place. They hold only what those files touch at import time; any *use* of them raises an
``ImportError`` naming torchvision. The stand-ins leave ``sys.modules`` afterwards, so ``import torchvision``
elsewhere still fails as usual. Where the real torchvision is installed, it is used and nothing is replaced.
"""
import enum
import importlib
import importlib.util
import sys
import types
from typing import Any, Dict, Optional

__all__ = ['import_mmpretrain', 'mmpretrain_available', 'guard_mmpretrain_registries', 'TorchvisionMissing']

# What mmpretrain needs importable: every package its registries are filled from.
MMPRETRAIN_PACKAGES = ('mmpretrain.models', 'mmpretrain.datasets', 'mmpretrain.evaluation', 'mmpretrain.engine',
                       'mmpretrain.structures', 'mmpretrain.visualization')

_imported: Optional[bool] = None
_importing = False


class TorchvisionMissing(ImportError):
    """An mmpretrain feature that needs torchvision was used; torchvision is not installed."""


def _missing(name: str) -> TorchvisionMissing:
    return TorchvisionMissing(f'{name} needs torchvision, which is not installed (mmagent runs mmpretrain without '
                              f'it; use the mmpretrain/mmcv transform of the same name in the pipeline instead)')


class _StandInModule(types.ModuleType):
    """A module whose every attribute is a callable raising :class:`TorchvisionMissing` when used."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith('__'):
            raise AttributeError(attr)

        def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise _missing(f'{self.__name__}.{attr}')

        return unavailable


class _InterpolationMode(enum.Enum):
    NEAREST = 'nearest'
    BILINEAR = 'bilinear'
    BICUBIC = 'bicubic'
    BOX = 'box'
    HAMMING = 'hamming'
    LANCZOS = 'lanczos'


class _UnavailableTransform:
    """Base of mmpretrain's ``MAERandomResizedCrop`` (torchvision's ``RandomResizedCrop``): fails when built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _missing(f'{type(self).__name__} (a torchvision transform)')


def _stand_ins() -> Dict[str, types.ModuleType]:
    root = types.ModuleType('torchvision')
    transforms = types.ModuleType('torchvision.transforms')  # dir() is scanned: it must list no transforms
    transforms.RandomResizedCrop = _UnavailableTransform
    transforms_transforms = types.ModuleType('torchvision.transforms.transforms')
    transforms_transforms.InterpolationMode = _InterpolationMode
    functional = _StandInModule('torchvision.transforms.functional')
    ops = types.ModuleType('torchvision.ops')
    boxes = _StandInModule('torchvision.ops.boxes')
    root.transforms, transforms.functional, transforms.transforms = transforms, functional, transforms_transforms
    root.ops, ops.boxes = ops, boxes
    modules = (root, transforms, transforms_transforms, functional, ops, boxes)
    for module in modules:
        module.__mmagent_stand_in__ = True
    return {module.__name__: module for module in modules}


def mmpretrain_available() -> bool:
    return importlib.util.find_spec('mmpretrain') is not None


def import_mmpretrain() -> bool:
    """Import mmpretrain's packages (with the stand-ins when torchvision is missing); False if not installed."""
    global _imported, _importing
    if _imported is not None:
        return _imported
    if _importing:  # a registry lookup from inside mmpretrain's own import: the stand-ins are in place
        return True
    if not mmpretrain_available():
        _imported = False
        return False
    real_torchvision = importlib.util.find_spec('torchvision') is not None
    stand_ins = {} if real_torchvision else _stand_ins()
    previous = {name: sys.modules[name] for name in stand_ins if name in sys.modules}
    sys.modules.update(stand_ins)
    _importing = True
    try:
        for package in MMPRETRAIN_PACKAGES:
            importlib.import_module(package)
    finally:
        _importing = False
        for name in stand_ins:
            if previous.get(name) is not None:
                sys.modules[name] = previous[name]
            else:
                sys.modules.pop(name, None)
    _imported = True
    return True


def guard_mmpretrain_registries() -> None:
    """Route every mmpretrain registry's lazy import of its packages (mmengine's ``import_from_location``, run by
    the first ``get`` / ``build``, e.g. when a runner builds an mmpretrain config) through
    :func:`import_mmpretrain`, so that it works without torchvision however the registry is first used."""
    from mmengine.registry import Registry
    import mmpretrain.registry as registries
    for registry in vars(registries).values():
        if isinstance(registry, Registry) and not getattr(registry, '_mmagent_guarded', False):
            lazy_import = registry.import_from_location

            def guarded(lazy_import=lazy_import) -> None:
                import_mmpretrain()
                lazy_import()

            registry.import_from_location = guarded
            registry._mmagent_guarded = True
