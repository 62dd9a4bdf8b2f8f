"""What every mmagent backbone shares: named architectures with explicit overrides, the arguments common to
all skeletons (``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``, dropout rates, ``attn_mode``,
``init_cfg``), the transformer block, ``init_cfg`` handling (train from scratch, or ``Pretrained`` through the
official-checkpoint converter), freezing enforced in ``train()`` and activation checkpointing.

A backbone is built in three layers (docs/design/skeletons.md): this base, a *skeleton* that owns the
geometry (Swin, pyramid/PVT, LaViT) and a *family* that only says which attention fills the blocks.
"""
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..converters import load_pretrained
from ..layers.common import ConvMlp, DerivedCacheOwner, Mlp

__all__ = ['BlockSpec', 'TransformerBlock', 'BackboneBase', 'with_layouts']

ARCH_ALIASES = {'tiny': 't', 'small': 's', 'medium': 'm', 'base': 'b', 'large': 'l'}


def with_layouts(sizes: Dict[str, Dict[str, Any]], layouts: Union[str, Dict[str, str]]) -> Dict[str, Dict[str, Any]]:
    """An ``arch_zoo``: a skeleton's named sizes, each with its ``attn_type`` (one layout for all, or per size)."""
    return {name: dict(size, attn_type=layouts if isinstance(layouts, str) else layouts[name])
            for name, size in sizes.items()}


@dataclass(frozen=True)
class BlockSpec:
    """Everything an attention builder needs to build the attention of one block."""
    letter: str  # layout letter of the block (A/B, L/S)
    stage: int  # 0-based stage index
    index: int  # 0-based block index within the stage
    num_stages: int
    embed_dims: int
    num_heads: int
    pretrain_hw: Tuple[int, int]  # token grid of this stage at the pretraining resolution
    attn_drop: float
    proj_drop: float
    qkv_bias: bool


class TransformerBlock(nn.Module):
    """Pre-norm block: x + DropPath(attn(LN(x))), then x + DropPath(MLP(LN(x))).

    Keys ``norm1``, ``attn``, ``norm2``, ``mlp`` as in the official checkpoints. ``attn`` is any module with
    ``forward(x, hw_shape)``; ``conv_mlp`` selects PVTv2's convolutional MLP. Shapes: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self, embed_dims: int, attn: nn.Module, mlp_ratio: float, drop: float, drop_path: float,
                 norm_eps: float, conv_mlp: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.conv_mlp = conv_mlp
        self.mlp = (ConvMlp if conv_mlp else Mlp)(embed_dims, int(embed_dims * mlp_ratio), drop)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw_shape))
        y = self.norm2(x)
        return x + self.drop_path(self.mlp(y, hw_shape) if self.conv_mlp else self.mlp(y))


class BackboneBase(DerivedCacheOwner, BaseModule):
    """Base of the mmagent backbones.

    Class attributes a backbone defines:

    * ``arch_zoo``: named sizes (``'t'``, ``'s'``, ...), each a dict of the skeleton's arch settings;
    * ``family``: the name :func:`mmagent.create_backbone` knows it by (``'<family>_<arch>'``);
    * ``checkpoint_layout``: which keys the official-checkpoint converter drops (``'swin'``, ``'pvt'``, ...);
    * ``benchmark_baseline``: the mmdet backbone ``tools/benchmark.py`` compares it with (``'swin'``, ``'pvt'``);
    * ``smoke_arch``: a narrow, shallow arch with every block kind, for smoke tests (not a model of a paper).

    Args (shared by every backbone, passed through the skeletons):
        num_stages: set by the skeleton from the resolved arch.
        in_channels: input channels (3).
        pretrain_img_size: ImageNet input size of the checkpoint (224); fixes every stored position grid.
        drop_rate, attn_drop_rate: dropout rates.
        drop_path_rate: stochastic depth, increasing linearly over all blocks (None: the family default).
        attn_mode: ``'fast'`` or ``'naive'`` (the official / literal computation) of the family's attention.
        out_indices: stages whose maps are returned.
        frozen_stages: -1 none; 0 the stem; i >= 1 also every module of stages 1..i (eval mode, no
            gradients), enforced in ``train()``.
        norm_eval: put BatchNorm layers in eval mode (a no-op for the LayerNorm-only backbones).
        with_cp: activation checkpointing per block.
        init_cfg: None (train from scratch with the official init) or
            ``dict(type='Pretrained', checkpoint=path_or_url[, prefix='backbone.'][, strict=True][, sha256=hex])``
            accepting an official ImageNet checkpoint as released, a converted one, or an mmagent checkpoint; a
            URL is cached and verified against ``sha256`` or its ``name-<sha256 prefix>.pth`` file name.
    """

    arch_zoo: ClassVar[Dict[str, Dict[str, Any]]] = {}
    family: ClassVar[str] = ''
    checkpoint_layout: ClassVar[str] = ''
    benchmark_baseline: ClassVar[str] = ''
    smoke_arch: ClassVar[Dict[str, Any]] = {}
    default_arch: ClassVar[str] = 't'
    default_drop_path_rate: ClassVar[float] = 0.1

    def __init__(self,
                 num_stages: int,
                 *,
                 in_channels: int = 3,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: Optional[float] = None,
                 attn_mode: str = 'fast',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if init_cfg is not None and not isinstance(init_cfg, dict):
            raise TypeError(f'init_cfg must be None or a dict, got {type(init_cfg).__name__}')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            unknown = set(init_cfg) - {'type', 'checkpoint', 'prefix', 'strict', 'sha256'}
            if unknown:
                raise TypeError(f'init_cfg of type Pretrained accepts checkpoint, prefix, strict and sha256; '
                                f'got unknown key(s) {sorted(unknown)}')
            if not init_cfg.get('checkpoint'):
                raise ValueError("init_cfg=dict(type='Pretrained') needs checkpoint='path/to/file.pth'")
        if attn_mode not in ('fast', 'naive'):
            raise ValueError(f"attn_mode must be 'fast' or 'naive', got {attn_mode!r}")
        super().__init__(init_cfg=init_cfg)
        self._check_indices(type(self).__name__, out_indices, frozen_stages, num_stages)
        self.num_stages = num_stages
        self.in_channels = in_channels
        self.pretrain_img_size = pretrain_img_size
        self.drop_rate = drop_rate
        self.attn_drop_rate = attn_drop_rate
        self.drop_path_rate = self.default_drop_path_rate if drop_path_rate is None else drop_path_rate
        self.attn_mode = attn_mode
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

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

    @classmethod
    def resolve_arch_from(cls, arch: Union[str, Dict[str, Any], None], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """:meth:`resolve_arch` with the overrides taken out of a constructor's ``kwargs``: any key of the
        arch settings (``embed_dims``, ``depths``, ...) given as an argument overrides the named arch. What
        remains in ``kwargs`` goes on to the explicit signature of :class:`BackboneBase`."""
        keys = next(iter(cls.arch_zoo.values()))
        return cls.resolve_arch(cls.default_arch if arch is None else arch,
                                **{k: kwargs.pop(k) for k in keys if k in kwargs})

    @classmethod
    def num_stages_of(cls, cfg: Dict[str, Any]) -> int:
        """How many stages a backbone built from ``cfg`` (its keyword arguments) has, without building it."""
        return len(cls.resolve_arch(cfg.get('arch') or cls.default_arch, depths=cfg.get('depths'))['depths'])

    @staticmethod
    def _check_indices(name: str, out_indices: Sequence[int], frozen_stages: int, num_stages: int) -> None:
        bad = [i for i in out_indices if not 0 <= i < num_stages]
        if bad or len(out_indices) == 0:
            raise ValueError(f'{name}: out_indices must be non-empty stage indices in [0, {num_stages - 1}], '
                             f'got {tuple(out_indices)}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'{name}: frozen_stages must be in [-1, {num_stages}], got {frozen_stages}')

    def drop_path_rates(self, depths: Sequence[int]) -> List[List[float]]:
        """Stochastic-depth rate of every block, per stage: linear from 0 to ``drop_path_rate`` over all blocks."""
        # device='cpu': plain numbers, also when the model is built under a meta / cuda default device
        rates = torch.linspace(0, self.drop_path_rate, sum(depths), device='cpu').tolist()
        return [rates[sum(depths[:stage]):sum(depths[:stage + 1])] for stage in range(len(depths))]

    # Set by the skeleton: the channels of every stage's output map (what a neck's in_channels lists).
    stage_channels: Tuple[int, ...] = ()

    def stage_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        """The (H_i, W_i) token grid of every stage for an input of height × width."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- init
    def keys_added_on_purpose(self) -> Set[str]:
        """State-dict keys that official checkpoints lack by design (default init when loading one)."""
        return set()

    def init_weights(self) -> None:
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            load_pretrained(self, cfg['checkpoint'], self.checkpoint_layout, self.keys_added_on_purpose(),
                            prefix=cfg.get('prefix'), strict=cfg.get('strict', True), sha256=cfg.get('sha256'))
            self._is_init = True
        else:
            # init_cfg=None: every module applied the official default init to itself at construction.
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
    def _call_block(self, block: nn.Module, x: torch.Tensor, *args: Any) -> Any:
        """``block(x, *args)``, activation-checkpointed when ``with_cp`` and gradients flow."""
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(block, x, *args, use_reentrant=False)
        return block(x, *args)
