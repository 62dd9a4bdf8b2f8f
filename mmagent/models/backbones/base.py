"""What every mmagent backbone shares: named architectures with explicit overrides, the transformer block,
``init_cfg`` handling (train from scratch, or ``Pretrained`` through the official-checkpoint converter),
``frozen_stages`` / ``norm_eval`` enforced in ``train()``, and activation checkpointing."""
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..converters import load_pretrained
from ..layers.common import Mlp

__all__ = ['BlockSpec', 'TransformerBlock', 'BackboneBase']

ARCH_ALIASES = {'tiny': 't', 'small': 's', 'medium': 'm', 'base': 'b', 'large': 'l'}


@dataclass(frozen=True)
class BlockSpec:
    """Everything an attention factory needs to build the attention of one block."""
    letter: str  # layout letter of the block (A/B, L/S)
    stage: int  # 0-based stage index
    index: int  # 0-based block index within the stage
    embed_dims: int
    num_heads: int
    pretrain_hw: Tuple[int, int]  # token grid of this stage at the pretraining resolution
    attn_drop: float
    proj_drop: float
    qkv_bias: bool


AttentionFactory = Callable[[BlockSpec], nn.Module]


class TransformerBlock(nn.Module):
    """Pre-norm block: x + DropPath(attn(LN(x))), then x + DropPath(MLP(LN(x))).

    Keys ``norm1``, ``attn``, ``norm2``, ``mlp`` as in the official checkpoints. ``attn`` is any module with
    ``forward(x, hw_shape)``. Shapes: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self, embed_dims: int, attn: nn.Module, mlp_ratio: float, drop: float, drop_path: float,
                 norm_eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class BackboneBase(BaseModule):
    """Base of the mmagent backbones.

    Subclasses define ``arch_zoo`` (named sizes), ``checkpoint_layout`` ('swin' or 'pvt') and
    ``_stage_modules(i)``; they build their layers and then call :meth:`_finish_init`.
    """

    arch_zoo: ClassVar[Dict[str, Dict[str, Any]]] = {}
    checkpoint_layout: ClassVar[str] = ''

    def __init__(self, init_cfg: Optional[dict] = None) -> None:
        if init_cfg is not None and not isinstance(init_cfg, dict):
            raise TypeError(f'init_cfg must be None or a dict, got {type(init_cfg).__name__}')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            unknown = set(init_cfg) - {'type', 'checkpoint', 'prefix', 'strict'}
            if unknown:
                raise TypeError(f'init_cfg of type Pretrained accepts checkpoint, prefix and strict; '
                                f'got unknown key(s) {sorted(unknown)}')
            if not init_cfg.get('checkpoint'):
                raise ValueError("init_cfg=dict(type='Pretrained') needs checkpoint='path/to/file.pth'")
        super().__init__(init_cfg=init_cfg)

    # ---------------------------------------------------------------------------------------- archs
    @classmethod
    def resolve_arch(cls, arch: Union[str, Dict[str, Any]], **overrides: Any) -> Dict[str, Any]:
        """Settings of a named arch (or an explicit dict), with non-None ``overrides`` applied."""
        if isinstance(arch, str):
            key = ARCH_ALIASES.get(arch.lower(), arch.lower())
            if key not in cls.arch_zoo:
                valid = ', '.join(repr(k) for k in cls.arch_zoo)
                raise ValueError(f'{cls.__name__}: unknown arch {arch!r}; valid archs are {valid} '
                                 f'(or a dict of settings)')
            settings = dict(cls.arch_zoo[key])
        elif isinstance(arch, dict):
            settings = dict(arch)
            required = set(next(iter(cls.arch_zoo.values())))
            missing = required - set(settings) - {k for k, v in overrides.items() if v is not None}
            if missing:
                raise ValueError(f'{cls.__name__}: custom arch dict misses {sorted(missing)}')
        else:
            raise TypeError(f'{cls.__name__}: arch must be a name or a dict, got {type(arch).__name__}')
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return settings

    @staticmethod
    def _check_indices(name: str, out_indices: Sequence[int], frozen_stages: int, num_stages: int) -> None:
        bad = [i for i in out_indices if not 0 <= i < num_stages]
        if bad or len(out_indices) == 0:
            raise ValueError(f'{name}: out_indices must be non-empty stage indices in [0, {num_stages - 1}], '
                             f'got {tuple(out_indices)}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'{name}: frozen_stages must be in [-1, {num_stages}], got {frozen_stages}')

    # ---------------------------------------------------------------------------------------- init
    def keys_added_on_purpose(self) -> Set[str]:
        """State-dict keys that official checkpoints lack by design (default init when loading one)."""
        return set()

    def init_weights(self) -> None:
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            load_pretrained(self, cfg['checkpoint'], self.checkpoint_layout, self.keys_added_on_purpose(),
                            prefix=cfg.get('prefix'), strict=cfg.get('strict', True))
            self._is_init = True
        else:
            # init_cfg=None: the official default init was applied at construction.
            super().init_weights()

    # ---------------------------------------------------------------------------------------- freezing
    def _stage_modules(self, stage: int) -> List[Union[nn.Module, nn.Parameter]]:
        """Modules/parameters frozen by ``frozen_stages >= stage`` (stage 0 = the stem)."""
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for stage in range(self.frozen_stages + 1):
            for item in self._stage_modules(stage):
                if isinstance(item, nn.Parameter):
                    item.requires_grad = False
                else:
                    item.eval()
                    for param in item.parameters():
                        param.requires_grad = False

    def train(self, mode: bool = True) -> 'BackboneBase':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            # LayerNorm has no running statistics: this only affects BatchNorm layers a user may add.
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ---------------------------------------------------------------------------------------- forward
    def _run_blocks(self, blocks: Iterable[nn.Module], x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        for block in blocks:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, hw_shape, use_reentrant=False)
            else:
                x = block(x, hw_shape)
        return x

    def _finish_init(self, default_init: Callable[[], None]) -> None:
        default_init()
        self._freeze_stages()
