"""The base class of every mmagent attention op: a computation mode and the derived-tensor caches, behind the
small interface that ``mmagent.models.api`` (and through it the tools) uses instead of op internals."""
from typing import ClassVar, Optional, Tuple

from mmengine.model import BaseModule

from .common import DerivedCacheOwner

__all__ = ['AttentionOp']


class AttentionOp(DerivedCacheOwner, BaseModule):
    """An attention op: ``forward(x, hw_shape, ...)`` over a (B, H·W, C) token map.

    ``modes`` lists the computations the op offers. Ops with a ``'naive'`` mode keep the official (or spec)
    literal computation next to the optimised ``'fast'`` one; both give the same results. Each op
    initialises its own parameters at construction (the backbones never re-initialise them).
    """

    modes: ClassVar[Tuple[str, ...]] = ('fast', )

    def __init__(self, embed_dims: int, num_heads: int, mode: str = 'fast', init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.mode = self._checked_mode(mode)

    def _checked_mode(self, mode: str) -> str:
        if mode not in self.modes:
            valid = ' or '.join(repr(m) for m in self.modes)
            raise ValueError(f'mode must be {valid}, got {mode!r}')
        return mode

    def set_mode(self, mode: str) -> None:
        """Switch the computation (``'fast'`` / ``'naive'``); cached tensors are dropped."""
        self.mode = self._checked_mode(mode)
        for cache in self.derived_caches():
            cache.clear()
