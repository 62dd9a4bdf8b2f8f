"""mmagent: Agent Attention, FLatten and LaViT backbones for mmdet 3.x, mmseg 1.x and mmpretrain 1.x.

Importing the package registers every backbone and attention op in ``mmdet.registry.MODELS``,
``mmseg.registry.MODELS`` and (when installed) ``mmpretrain.registry.MODELS``, and allow-lists the non-tensor types of mmengine checkpoints for
``torch.load(weights_only=True)``. Outside OpenMMLab configs, :func:`create_backbone` builds a backbone by
name (``mmagent.list_backbones()``) as a plain PyTorch module.
"""
from .utils.checkpoint import register_safe_globals
from .version import __version__

register_safe_globals()

from . import engine, models  # noqa: E402,F401  (registers the modules)
from .models import *  # noqa: E402,F401,F403
from .models.api import create_backbone, list_backbones  # noqa: E402

__all__ = ['__version__', 'engine', 'models', 'create_backbone', 'list_backbones']
