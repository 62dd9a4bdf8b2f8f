"""LaViT-T/S/B backbones: mmagent's **interpretation** of "You Only Need Less Attention at Each Stage in
Vision Transformers" (CVPR 2024). The paper has no public code and its method text is only partly known;
spec lavit.md Part C fixes the choices made here, and configs/lavit/README.md lists every deviation. Numbers
obtained with this model are never reproductions of the paper's.

Module names (spec C.10): ``patch_embed{m}.{proj,norm}``, ``pos_embed{m}``, ``stage{m}.{j}`` (blocks with
``norm1``, ``attn``, ``norm2``, ``ffn.{fc1,dwconv,fc2}``), ``norm{m}``, ``rad{m}.{dwconv,head_mix}`` (m >= 2),
and ``head`` in the classification form.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log

from ...registry import register_model
from ..layers.common import (DerivedTensorCache, depthwise_conv_tokens, init_linear_trunc_normal, per_stage,
                             resize_token_embedding)
from ..layers.lavit_attention import LaViTLessAttention, LaViTVanillaAttention, ResidualAttentionDownsample
from ..losses.dp_loss import DiagonalityPreservingLoss
from .base import BackboneBase

__all__ = ['LaViT', 'LaViTClassifier', 'LaViTBlock', 'ConvFFN', 'LaViTPatchEmbed']

# (kernel, stride, padding) of the stage-1 and later patch embeddings; RAD mirrors the later ones (C.6).
PATCH_GEOMETRY = {
    'overlap': ((7, 4, 3), (3, 2, 1)),
    'nonoverlap': ((4, 4, 0), (2, 2, 0)),
}


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class LaViTPatchEmbed(nn.Module):
    """Conv k×k stride s padding p (with bias), then LayerNorm.

    Shapes: (B, C_in, H, W) -> (B, H'·W', C), (H', W') with H' = ⌊(H + 2p − k) / s⌋ + 1 (⌈H/s⌉ for the
    overlapping geometry, ⌊H/s⌋ for the non-overlapping one).
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, padding)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(x)
        return self.norm(x.flatten(2).transpose(1, 2)), (x.shape[2], x.shape[3])


class ConvFFN(nn.Module):
    """PVTv2 convolutional FFN: Linear C→rC, depthwise 3×3 on the hidden map, GELU, Linear rC→C.

    Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self, embed_dims: int, hidden_dims: int, drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.dwconv = nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        x = depthwise_conv_tokens(self.fc1(x), hw_shape, self.dwconv)
        return self.drop(self.fc2(self.drop(self.act(x))))


class LaViTBlock(nn.Module):
    """Pre-norm layer: x + DropPath(attn(LN(x), prev)), then x + DropPath(FFN(LN(x))) (FFN optional).

    ``prev`` is the RAD residual (or None) for a VA layer and the carried attention for an LA layer.
    Shapes: ``forward(x, hw_shape, prev)``: (B, N, C) -> ``(x (B, N, C), logits (B, h, N, n), probs)``.
    """

    def __init__(self, kind: str, embed_dims: int, attn: nn.Module, mlp_ratio: float, drop: float,
                 drop_path: float, with_ffn: bool = True) -> None:
        super().__init__()
        self.kind = kind
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = attn
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims) if with_ffn else None
        self.ffn = ConvFFN(embed_dims, int(embed_dims * mlp_ratio), drop) if with_ffn else None

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int],
                prev: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, logits, probs = self.attn(self.norm1(x), hw_shape, prev)
        x = x + self.drop_path(out)
        if self.ffn is not None:
            x = x + self.drop_path(self.ffn(self.norm2(x), hw_shape))
        return x, logits, probs


@register_model
class LaViT(BackboneBase):
    """LaViT backbone, mmagent interpretation (spec lavit.md Part C): a PVTv2-style 4-stage pyramid whose
    stages run L_VA vanilla-attention layers, then less-attention layers that reuse the carried attention
    through Θ (key axis) and Ψ (query grid), with residual attention downsampling between stages and the
    diagonality-preserving loss ``loss_dp`` kept for ``AuxLossWrapper`` (``mmagent.models.wrappers``).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'``/``'small'``/``'base'``) or a dict with ``embed_dims``,
            ``depths``, ``num_heads``, ``mlp_ratios``, ``num_va_layers``.
        embed_dims, depths, num_heads, mlp_ratios, num_va_layers: per-stage overrides of the arch;
            ``num_va_layers[m]`` in [1, depths[m]] (the rest of the stage are LA layers).
        pool_size: side P of the pooled key grid (n = P² key slots at every resolution).
        patch_embed: ``'overlap'`` (7×7/4 then 3×3/2, PVTv2) or ``'nonoverlap'`` (4×4/4 then 2×2/2).
        in_channels: input channels.
        pretrain_img_size: input side whose stage grids the position embeddings are stored at (224).
        pos_embed_interp: ``'bilinear'`` or ``'bicubic'`` resize of the position embeddings.
        pos_embed_align_corners: ``align_corners`` of that resize (False).
        kv_norm: LayerNorm on the pooled tokens.
        qkv_bias: biases of ``q``, ``kv`` and ``v``.
        carry: what a layer hands on: ``'logits'`` (pre-softmax) or ``'probs'``.
        theta, theta_init, psi, psi_kernel, psi_groups: the LA transforms (see :class:`LaViTLessAttention`).
        attn_mode: ``'fast'`` or ``'naive'`` (literal) computation of the VA and LA layers, same results.
        la_ffn: LA layers have a norm + FFN (True) or only attention (figure-literal, False).
        rad: residual attention downsampling into the first VA layer of stages 2..4.
        rad_head_mix: ``'linear'`` (learned, replication init) or ``'repeat'``.
        rad_gate: None, or the initial value of a learnable per-head gate on the RAD residual.
        loss_dp_weight: λ of ``loss_dp`` (0 disables it; nothing is computed).
        dp_layers: ``'la'`` (LA layers) or ``'all'`` (VA layers too).
        dp_term_weights: (w_sym, w_diag).
        drop_rate, attn_drop_rate: dropout rates.
        drop_path_rate: stochastic depth, increasing linearly over all layers.
        out_indices: stages whose maps are returned.
        frozen_stages: -1 none; 0 ``patch_embed1`` + ``pos_embed1``; k >= 1 every module of stages 1..k
            (patch embedding, position embedding, layers, ``norm{k}``, ``rad{k}``). Frozen stages add nothing
            to ``loss_dp``.
        norm_eval: put BatchNorm layers in eval mode (LaViT has none; kept for API parity).
        with_cp: activation checkpointing per layer.
        init_cfg: None (train from scratch) or ``dict(type='Pretrained', checkpoint=..., prefix=...)`` for an
            mmagent LaViT checkpoint (a classification one loads with ``head.*`` dropped). No official LaViT
            weights exist.

    Shapes: (B, in_channels, H, W) -> tuple of (B, C_m, H_m, W_m) for m in ``out_indices``, with
    H_1 = ⌈H/4⌉ and H_m = ⌈H_{m−1}/2⌉ for ``'overlap'`` (any H, W >= 1), floors for ``'nonoverlap'``
    (H, W >= 32).
    """

    arch_zoo = {
        't': dict(embed_dims=(64, 128, 256, 448), num_heads=(1, 2, 4, 7), mlp_ratios=(6, 6, 4, 4),
                  depths=(2, 2, 2, 3), num_va_layers=(1, 1, 1, 1)),
        's': dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4),
                  depths=(2, 3, 6, 4), num_va_layers=(1, 1, 2, 2)),
        'b': dict(embed_dims=(64, 128, 320, 640), num_heads=(1, 2, 5, 10), mlp_ratios=(8, 8, 4, 4),
                  depths=(3, 4, 16, 4), num_va_layers=(1, 1, 3, 2)),
    }
    checkpoint_layout = 'lavit'

    def __init__(self,
                 arch: Union[str, dict] = 't',
                 embed_dims: Optional[Sequence[int]] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 mlp_ratios: Optional[Sequence[float]] = None,
                 num_va_layers: Optional[Sequence[int]] = None,
                 pool_size: int = 7,
                 patch_embed: str = 'overlap',
                 in_channels: int = 3,
                 pretrain_img_size: int = 224,
                 pos_embed_interp: str = 'bilinear',
                 pos_embed_align_corners: bool = False,
                 kv_norm: bool = True,
                 qkv_bias: bool = True,
                 carry: str = 'logits',
                 theta: str = 'shared',
                 theta_init: str = 'identity',
                 psi: str = 'dwconv',
                 psi_kernel: int = 3,
                 psi_groups: str = 'head',
                 attn_mode: str = 'fast',
                 la_ffn: bool = True,
                 rad: bool = True,
                 rad_head_mix: str = 'linear',
                 rad_gate: Optional[float] = None,
                 loss_dp_weight: float = 0.1,
                 dp_layers: str = 'la',
                 dp_term_weights: Sequence[float] = (1.0, 1.0),
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
                                 mlp_ratios=mlp_ratios, num_va_layers=num_va_layers)
        depths = list(arch['depths'])
        num_stages = len(depths)
        embed_dims = per_stage('embed_dims', arch['embed_dims'], num_stages)
        num_heads = per_stage('num_heads', arch['num_heads'], num_stages)
        mlp_ratios = per_stage('mlp_ratios', arch['mlp_ratios'], num_stages)
        num_va_layers = per_stage('num_va_layers', arch['num_va_layers'], num_stages)
        for stage, (va, depth) in enumerate(zip(num_va_layers, depths)):
            if not 1 <= va <= depth:
                raise ValueError(f'num_va_layers[{stage}] = {va} must be in [1, depths[{stage}] = {depth}]: every '
                                 f'stage starts with at least one VA layer (LA layers need attention to reuse)')
        choices = dict(patch_embed=(patch_embed, tuple(PATCH_GEOMETRY)), carry=(carry, ('logits', 'probs')),
                       dp_layers=(dp_layers, ('la', 'all')), pos_embed_interp=(pos_embed_interp,
                                                                              ('bilinear', 'bicubic')))
        for name, (value, valid) in choices.items():
            if value not in valid:
                raise ValueError(f'{name} must be one of {valid}, got {value!r}')
        self._check_indices(type(self).__name__, out_indices, frozen_stages, num_stages)
        if loss_dp_weight > 0 and dp_layers == 'la' and num_va_layers == depths:
            raise ValueError("dp_layers='la' but this arch has no LA layer: use dp_layers='all' or "
                             'loss_dp_weight=0')

        self.arch_settings = dict(embed_dims=tuple(embed_dims), depths=tuple(depths), num_heads=tuple(num_heads),
                                  mlp_ratios=tuple(mlp_ratios), num_va_layers=tuple(num_va_layers))
        self.embed_dims = tuple(embed_dims)
        self.depths = tuple(depths)
        self.num_heads = tuple(num_heads)
        self.num_va_layers = tuple(num_va_layers)
        self.num_stages = num_stages
        self.pool_size = pool_size
        self.patch_embed_type = patch_embed
        self.carry = carry
        self.dp_layers = dp_layers
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.pos_embed_interp = pos_embed_interp
        self.pos_embed_align_corners = pos_embed_align_corners
        self.pos_embed_cache = DerivedTensorCache()
        self.use_rad = rad
        # loss_dp is computed only when a consumer (AuxLossWrapper, LaViTClassifier) collects it.
        self.collect_aux_losses = False
        self._dp_loss: Optional[torch.Tensor] = None
        self._warned_uncollected = False
        self.dp_loss = DiagonalityPreservingLoss(loss_dp_weight, dp_term_weights, pool_size) \
            if loss_dp_weight > 0 else None

        first_geometry, later_geometry = PATCH_GEOMETRY[patch_embed]
        drop_paths = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.pretrain_grids: List[Tuple[int, int]] = []
        grid = pretrain_img_size
        for stage in range(num_stages):
            dims, heads = embed_dims[stage], num_heads[stage]
            geometry = first_geometry if stage == 0 else later_geometry
            grid = conv_out(grid, *geometry)
            self.pretrain_grids.append((grid, grid))
            setattr(self, f'patch_embed{stage + 1}',
                    LaViTPatchEmbed(in_channels if stage == 0 else embed_dims[stage - 1], dims, *geometry))
            setattr(self, f'pos_embed{stage + 1}', nn.Parameter(torch.zeros(1, grid * grid, dims)))
            setattr(self, f'pos_drop{stage + 1}', nn.Dropout(drop_rate))
            if stage > 0 and rad:
                setattr(self, f'rad{stage + 1}',
                        ResidualAttentionDownsample(num_heads[stage - 1], heads, *later_geometry,
                                                    head_mix=rad_head_mix, gate=rad_gate))
            blocks = []
            for index in range(depths[stage]):
                if index < num_va_layers[stage]:
                    kind = 'va'
                    attn = LaViTVanillaAttention(dims, heads, pool_size, kv_norm, qkv_bias, attn_drop_rate, drop_rate,
                                                 attn_mode)
                else:
                    kind = 'la'
                    attn = LaViTLessAttention(dims, heads, pool_size, kv_norm, qkv_bias, theta, theta_init, psi,
                                              psi_kernel, psi_groups, attn_drop_rate, drop_rate, attn_mode)
                blocks.append(LaViTBlock(kind, dims, attn, mlp_ratios[stage], drop_rate,
                                         drop_paths[sum(depths[:stage]) + index], with_ffn=kind == 'va' or la_ffn))
            setattr(self, f'stage{stage + 1}', nn.ModuleList(blocks))
            setattr(self, f'norm{stage + 1}', nn.LayerNorm(dims))
        self._finish_init(self._default_init)

    # ---------------------------------------------------------------------------------------- init
    def _default_init(self) -> None:
        for stage in range(self.num_stages):
            nn.init.trunc_normal_(getattr(self, f'pos_embed{stage + 1}'), std=.02)
        init_linear_trunc_normal(self)
        # The generic Linear init above overwrites RAD's head mix: restore the structured inits (C.5, C.6).
        for module in self.modules():
            if isinstance(module, LaViTLessAttention):
                module.reset_reuse_parameters()
            elif isinstance(module, ResidualAttentionDownsample):
                module.reset_parameters()

    def _stage_modules(self, stage: int):
        # Stage 0 is the stem (patch_embed1 + pos_embed1); stage k >= 1 is everything of LaViT stage k.
        first = max(stage, 1)
        modules = [getattr(self, f'patch_embed{first}'), getattr(self, f'pos_embed{first}')]
        if stage >= 1:
            modules += [getattr(self, f'stage{stage}'), getattr(self, f'norm{stage}')]
            if stage >= 2 and self.use_rad:
                modules.append(getattr(self, f'rad{stage}'))
        return modules

    # ---------------------------------------------------------------------------------------- helpers
    def stage_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        """The (H_m, W_m) grid of every stage for an input of height × width."""
        grids = []
        for stage in range(self.num_stages):
            geometry = PATCH_GEOMETRY[self.patch_embed_type][0 if stage == 0 else 1]
            height, width = conv_out(height, *geometry), conv_out(width, *geometry)
            grids.append((height, width))
        return grids

    def pos_embed_at(self, stage: int, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``pos_embed{stage+1}`` at (H, W): (1, H·W, C). Resized only when (H, W) differs from the same
        stage's own pretraining grid (never compared with another stage's token count)."""
        pos_embed = getattr(self, f'pos_embed{stage + 1}')
        grid, hw_shape = self.pretrain_grids[stage], tuple(hw_shape)
        if hw_shape == grid:
            return pos_embed
        return self.pos_embed_cache.get(
            self, (stage, hw_shape), (pos_embed, ), lambda: resize_token_embedding(
                pos_embed, grid, hw_shape, self.pos_embed_interp, self.pos_embed_align_corners))

    def _dp_selected(self, stage: int, block: LaViTBlock) -> bool:
        trainable = stage + 1 > max(self.frozen_stages, 0)
        return trainable and (self.dp_layers == 'all' or block.kind == 'la')

    def pop_aux_losses(self) -> Dict[str, torch.Tensor]:
        """``{'loss_dp': scalar}`` from the last training forward (empty if none), and forget it."""
        loss, self._dp_loss = self._dp_loss, None
        return {} if loss is None else {'loss_dp': loss}

    # ---------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        height, width = x.shape[-2:]
        if min(min(g) for g in self.stage_grids(height, width)) < 1:
            raise ValueError(f'{type(self).__name__} with patch_embed={self.patch_embed_type!r} needs inputs of '
                             f'at least 32x32 px (a stride-32 stage of >= 1 token); got {height}x{width}')
        self._dp_loss = None
        with_dp = self.training and self.dp_loss is not None
        if with_dp and not self.collect_aux_losses:
            if not self._warned_uncollected:
                print_log('LaViT: loss_dp_weight > 0 but nothing collects loss_dp (wrap the detector/segmentor '
                          "in type='AuxLossWrapper'); loss_dp is not computed. Set loss_dp_weight=0 to silence.",
                          logger='current', level=30)
                self._warned_uncollected = True
            with_dp = False
        batch = x.shape[0]
        outs, dp_inputs = [], []
        carried, prev_hw = None, None
        for stage in range(self.num_stages):
            tokens, hw_shape = getattr(self, f'patch_embed{stage + 1}')(x)
            tokens = getattr(self, f'pos_drop{stage + 1}')(tokens + self.pos_embed_at(stage, hw_shape))
            residual = None
            if stage > 0 and self.use_rad:
                residual = getattr(self, f'rad{stage + 1}')(carried, prev_hw, hw_shape)
            for index, block in enumerate(getattr(self, f'stage{stage + 1}')):
                prev = carried if block.kind == 'la' else (residual if index == 0 else None)
                if self.with_cp and tokens.requires_grad:
                    tokens, logits, probs = cp.checkpoint(block, tokens, hw_shape, prev, use_reentrant=False)
                else:
                    tokens, logits, probs = block(tokens, hw_shape, prev)
                carried = logits if self.carry == 'logits' else probs
                if with_dp and self._dp_selected(stage, block):
                    dp_inputs.append((probs, hw_shape))
            tokens = getattr(self, f'norm{stage + 1}')(tokens)
            x = tokens.reshape(batch, *hw_shape, -1).permute(0, 3, 1, 2).contiguous()
            prev_hw = hw_shape
            if stage in self.out_indices:
                outs.append(x)
        if dp_inputs:
            self._dp_loss = self.dp_loss(dp_inputs)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'LaViT':
        self.pos_embed_cache.clear()
        return super().train(mode)


@register_model
class LaViTClassifier(LaViT):
    """Classification form (spec C.2): ``norm4`` → mean over the last stage's tokens → Linear(C_4, classes).

    Used for the size targets (params / FLOPs at 224) and for ImageNet pretraining; its state dict is the
    backbone's plus ``head.*``, which ``init_cfg=Pretrained`` of :class:`LaViT` drops.

    Args:
        num_classes: classes of the head.
        Others: as :class:`LaViT`; ``out_indices`` is fixed to the last stage.

    ``forward(x)``: (B, 3, H, W) -> logits (B, num_classes). ``loss(x, labels)`` -> dict with ``loss_cls``
    (cross entropy) and, in training mode with ``loss_dp_weight > 0``, ``loss_dp``.
    """

    def __init__(self, arch: Union[str, dict] = 't', num_classes: int = 1000, **kwargs) -> None:
        if 'out_indices' in kwargs:
            raise TypeError('LaViTClassifier: out_indices is fixed to the last stage')
        num_stages = len(self.resolve_arch(arch, depths=kwargs.get('depths'))['depths'])
        super().__init__(arch=arch, out_indices=(num_stages - 1, ), **kwargs)
        self.head = nn.Linear(self.embed_dims[-1], num_classes)
        nn.init.trunc_normal_(self.head.weight, std=.02)
        nn.init.zeros_(self.head.bias)
        self.collect_aux_losses = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(super().forward(x)[-1].mean(dim=(2, 3)))

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        losses = dict(loss_cls=F.cross_entropy(self(x), labels))
        losses.update(self.pop_aux_losses())
        return losses
