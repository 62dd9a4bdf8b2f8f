"""The public model API: what tools, analysis and users call instead of reaching into op internals.

Every function takes any ``nn.Module`` tree (a backbone, a whole detector or segmentor) and acts on the
mmagent attention ops and derived-tensor caches inside it::

    from mmagent import create_backbone, set_attention_mode
    backbone = create_backbone('agent_swin_t', checkpoint='checkpoints/agent_swin_t_max_acc.pth')
    set_attention_mode(backbone, 'naive')      # the official, literal computation
"""
from typing import Any, Dict, List, Optional

import torch.nn as nn

from .backbones import BACKBONES, BackboneBase
from .layers.agent_attention import AgentAttentionCore
from .layers.base import AttentionOp
from .layers.common import DerivedCacheOwner, DerivedTensorCache
from .layers.workspace_attention import release_workspace

__all__ = [
    'attention_ops', 'attention_blocks', 'set_attention_mode', 'derived_caches', 'set_caches_enabled', 'clear_caches',
    'release_workspace', 'use_pretraining_agent_grids', 'list_backbones', 'create_backbone'
]


def attention_ops(model: nn.Module) -> List[AttentionOp]:
    """Every mmagent attention op in ``model``."""
    return [m for m in model.modules() if isinstance(m, AttentionOp)]


def attention_blocks(model: nn.Module) -> Dict[str, nn.Module]:
    """The blocks of ``model`` whose ``attn`` is an mmagent attention op, by module name (transformer blocks of
    every family, LaViT's VA and LA layers)."""
    return {name: m for name, m in model.named_modules() if isinstance(getattr(m, 'attn', None), AttentionOp)}


def set_attention_mode(model: nn.Module, mode: str) -> int:
    """Switch every op that offers ``mode`` (``'fast'`` or ``'naive'``); returns how many ops switched. Ops
    with a single computation (window, spatial-reduction attention) are left alone."""
    ops = [op for op in attention_ops(model) if mode in op.modes]
    for op in ops:
        op.set_mode(mode)
    return len([op for op in ops if len(op.modes) > 1])


def derived_caches(model: nn.Module) -> List[DerivedTensorCache]:
    """Every cache of tensors derived from parameters (resized biases, encodings, kernels) in ``model``."""
    return [c for m in model.modules() if isinstance(m, DerivedCacheOwner) for c in m.derived_caches()]


def set_caches_enabled(model: nn.Module, enabled: bool) -> int:
    """Enable or disable every derived-tensor cache (disabled: recompute every forward); returns how many."""
    caches = derived_caches(model)
    for cache in caches:
        cache.enabled = enabled
        cache.clear()
    return len(caches)


def clear_caches(model: nn.Module) -> int:
    """Empty every derived-tensor cache; returns how many caches there are."""
    caches = derived_caches(model)
    for cache in caches:
        cache.clear()
    return len(caches)


def use_pretraining_agent_grids(model: nn.Module) -> int:
    """Run every agent-attention op on its pretraining agent grid (P×P), the ImageNet form; returns how many
    ops changed."""
    return sum(m.use_pretraining_agent_grid() for m in model.modules() if isinstance(m, AgentAttentionCore))


def list_backbones() -> List[str]:
    """The names :func:`create_backbone` accepts: ``'<family>_<arch>'``, e.g. ``'agent_swin_t'``."""
    return [f'{family}_{arch}' for family, cls in BACKBONES.items() for arch in cls.arch_zoo]


def create_backbone(name: str, checkpoint: Optional[str] = None, **kwargs: Any) -> BackboneBase:
    """A backbone as a plain ``nn.Module`` (no OpenMMLab config needed), optionally with weights loaded.

    Args:
        name: ``'<family>_<arch>'`` (see :func:`list_backbones`), e.g. ``'flatten_pvt_s'``.
        checkpoint: an official ImageNet checkpoint as released, a converted one, or an mmagent/mmdet/mmseg
            checkpoint (add ``prefix='backbone.'`` for a detector's or segmentor's); converted and checked on
            load exactly as ``init_cfg=dict(type='Pretrained', ...)``.
        **kwargs: constructor arguments of the backbone (``out_indices``, ``drop_path_rate``, ...), plus
            ``prefix`` / ``strict`` / ``sha256`` for the checkpoint.

    Returns the same module the registries build, in training mode as PyTorch modules start.
    """
    family, _, arch = name.rpartition('_')
    if family not in BACKBONES or arch not in BACKBONES[family].arch_zoo:
        raise ValueError(f'unknown backbone {name!r}; valid names are {", ".join(list_backbones())}')
    load = {k: kwargs.pop(k) for k in ('prefix', 'strict', 'sha256') if k in kwargs}
    if load and checkpoint is None:
        raise TypeError(f'{sorted(load)} only apply together with checkpoint=...')
    init_cfg = None if checkpoint is None else dict(type='Pretrained', checkpoint=checkpoint, **load)
    model = BACKBONES[family](arch=arch, init_cfg=init_cfg, **kwargs)
    if checkpoint is not None:
        model.init_weights()
    return model
