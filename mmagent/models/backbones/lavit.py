"""LaViT-T/S/B backbones: mmagent's **interpretation** of "You Only Need Less Attention at Each Stage in
Vision Transformers" (CVPR 2024). The paper has no public code and its method text is only partly known;
docs/design/lavit.md states the choices made here and configs/lavit/README.md lists every deviation. Numbers
obtained with this model are never reproductions of the paper's.

Module names: ``patch_embed{m}.{proj,norm}``, ``pos_embed{m}``, ``stage{m}.{j}`` (blocks with ``norm1``,
``attn``, ``norm2``, ``ffn.{fc1,dwconv,fc2}``), ``norm{m}``, ``rad{m}.{dwconv,head_mix}`` (m >= 2), and ``head``
in the classification form (:class:`~mmagent.models.backbones.lavit_classifier.LaViTClassifier`).
"""
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmengine.logging import print_log

from ...registry import register_model
from ..layers.common import ConvMlp, per_stage
from ..layers.lavit_attention import LaViTLessAttention, LaViTVanillaAttention, ResidualAttentionDownsample
from ..losses.dp_loss import DiagonalityPreservingLoss
from .pyramid_skeleton import PyramidSkeleton

__all__ = ['LaViT', 'LaViTBlock', 'PATCH_GEOMETRY', 'LA_DEFAULTS', 'RAD_DEFAULTS', 'DP_DEFAULTS']

# (kernel, stride, padding) of the stage-1 and later patch embeddings; RAD mirrors the later ones.
PATCH_GEOMETRY = {
    'overlap': ((7, 4, 3), (3, 2, 1)),
    'nonoverlap': ((4, 4, 0), (2, 2, 0)),
}
# The switch groups and their defaults (a user's dict is merged over them; None disables RAD / loss_dp).
LA_DEFAULTS = dict(theta='shared', theta_init='identity', psi='dwconv', psi_kernel=3, psi_groups='head', ffn=True,
                   carry='logits')
RAD_DEFAULTS = dict(head_mix='linear', gate=None)
DP_DEFAULTS = dict(loss_weight=0.1, layers='la', term_weights=(1.0, 1.0))


def _merged(group: str, defaults: Dict[str, Any], given: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise TypeError(f'LaViT {group}: unknown key(s) {unknown}; valid keys are {sorted(defaults)}')
    return dict(defaults, **(given or {}))


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
        self.ffn = ConvMlp(embed_dims, int(embed_dims * mlp_ratio), drop, nested_dwconv=False) if with_ffn else None

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int],
                prev: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, logits, probs = self.attn(self.norm1(x), hw_shape, prev)
        x = x + self.drop_path(out)
        if self.ffn is not None:
            x = x + self.drop_path(self.ffn(self.norm2(x), hw_shape))
        return x, logits, probs


@register_model
class LaViT(PyramidSkeleton):
    """LaViT backbone, mmagent interpretation (docs/design/lavit.md): a PVTv2-style 4-stage pyramid whose
    stages run L_VA vanilla-attention layers, then less-attention layers that reuse the carried attention
    through Θ (key axis) and Ψ (query grid), with residual attention downsampling (RAD) between stages and the
    diagonality-preserving loss ``loss_dp`` kept for ``AuxLossWrapper`` (``mmagent.models.wrappers``).

    Args:
        arch: ``'t'``, ``'s'``, ``'b'`` (or ``'tiny'``/``'small'``/``'base'``) or a dict with ``embed_dims``,
            ``depths``, ``num_heads``, ``mlp_ratios``, ``num_va_layers`` (per stage; ``num_va_layers[m]`` in
            [1, depths[m]], the rest of the stage are LA layers). Each key may also be passed as an argument,
            overriding the named arch.
        pool_size: side P of the pooled key grid (n = P² key slots at every resolution).
        kv_norm: LayerNorm on the pooled tokens.
        qkv_bias: biases of ``q``, ``kv`` and ``v``.
        patch_embed: ``'overlap'`` (7×7/4 then 3×3/2, PVTv2) or ``'nonoverlap'`` (4×4/4 then 2×2/2).
        la_cfg: the less-attention switches, merged over ``LA_DEFAULTS``: ``theta`` (``'shared'``,
            ``'per_head'``, ``'none'``), ``theta_init``, ``psi`` (``'dwconv'``, ``'none'``), ``psi_kernel``,
            ``psi_groups`` (see :class:`LaViTLessAttention`), ``ffn`` (LA layers have a norm + FFN, or only
            attention) and ``carry`` (``'logits'`` or ``'probs'``: what a layer hands on).
        rad_cfg: residual attention downsampling into the first VA layer of stages 2..4, merged over
            ``RAD_DEFAULTS``: ``head_mix`` (``'linear'``, ``'repeat'``) and ``gate`` (None, or the initial value
            of a learnable per-head gate); None disables RAD.
        dp_cfg: the diagonality-preserving loss, merged over ``DP_DEFAULTS``: ``loss_weight`` (λ; 0 computes
            nothing), ``layers`` (``'la'`` or ``'all'``) and ``term_weights`` (w_sym, w_diag); None disables it.
        pos_embed_interp, pos_embed_align_corners: see :class:`PyramidSkeleton`.
        in_channels, pretrain_img_size, drop_rate, attn_drop_rate, drop_path_rate (0.1), attn_mode (VA and LA
            layers), out_indices, frozen_stages (k >= 1 freezes stage k's embeddings, layers, ``norm{k}`` and
            ``rad{k}``; frozen stages add nothing to ``loss_dp``), norm_eval, with_cp, init_cfg (an mmagent LaViT
            checkpoint; a classification one loads with ``head.*`` dropped; no official weights exist): see
            :class:`BackboneBase`.

    Shapes: (B, in_channels, H, W) -> tuple of (B, C_m, H_m, W_m) for m in ``out_indices``, with
    H_1 = ⌈H/4⌉ and H_m = ⌈H_{m−1}/2⌉ for ``'overlap'`` (any H, W >= 1), floors for ``'nonoverlap'``
    (H, W >= 32).
    """

    family = 'lavit'
    arch_zoo = {
        't': dict(embed_dims=(64, 128, 256, 448), num_heads=(1, 2, 4, 7), mlp_ratios=(6, 6, 4, 4),
                  depths=(2, 2, 2, 3), num_va_layers=(1, 1, 1, 1)),
        's': dict(embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8, 8, 4, 4),
                  depths=(2, 3, 6, 4), num_va_layers=(1, 1, 2, 2)),
        'b': dict(embed_dims=(64, 128, 320, 640), num_heads=(1, 2, 5, 10), mlp_ratios=(8, 8, 4, 4),
                  depths=(3, 4, 16, 4), num_va_layers=(1, 1, 3, 2)),
    }
    smoke_arch = dict(embed_dims=(16, 32, 48, 64), num_heads=(1, 2, 3, 4), depths=(2, 2, 2, 2),
                      num_va_layers=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2))
    checkpoint_layout = 'lavit'
    benchmark_baseline = 'pvt'
    stage_prefix = 'stage'

    def __init__(self,
                 arch: Union[str, dict, None] = None,
                 *,
                 pool_size: int = 7,
                 kv_norm: bool = True,
                 qkv_bias: bool = True,
                 patch_embed: str = 'overlap',
                 la_cfg: Optional[dict] = None,
                 rad_cfg: Optional[dict] = RAD_DEFAULTS,
                 dp_cfg: Optional[dict] = DP_DEFAULTS,
                 **kwargs) -> None:
        arch = self.resolve_arch_from(arch, kwargs)
        depths = list(arch['depths'])
        num_stages = len(depths)
        num_va_layers = per_stage('num_va_layers', arch['num_va_layers'], num_stages)
        for stage, (va, depth) in enumerate(zip(num_va_layers, depths)):
            if not 1 <= va <= depth:
                raise ValueError(f'num_va_layers[{stage}] = {va} must be in [1, depths[{stage}] = {depth}]: every '
                                 f'stage starts with at least one VA layer (LA layers need attention to reuse)')
        if patch_embed not in PATCH_GEOMETRY:
            raise ValueError(f'patch_embed must be one of {tuple(PATCH_GEOMETRY)}, got {patch_embed!r}')
        la_cfg = _merged('la_cfg', LA_DEFAULTS, la_cfg)
        dp_cfg = _merged('dp_cfg', DP_DEFAULTS, dp_cfg) if dp_cfg is not None else dict(DP_DEFAULTS, loss_weight=0.)
        self.rad_cfg = _merged('rad_cfg', RAD_DEFAULTS, rad_cfg) if rad_cfg is not None else None
        for name, value, valid in (('carry', la_cfg['carry'], ('logits', 'probs')),
                                   ('dp_layers', dp_cfg['layers'], ('la', 'all'))):
            if value not in valid:
                raise ValueError(f'{name} must be one of {valid}, got {value!r}')
        if dp_cfg['loss_weight'] > 0 and dp_cfg['layers'] == 'la' and num_va_layers == depths:
            raise ValueError("dp_cfg layers='la' but this arch has no LA layer: use layers='all' or "
                             'loss_weight=0')
        # Read by build_stage, which the pyramid skeleton calls while it builds.
        self.arch_settings = dict(embed_dims=tuple(arch['embed_dims']), depths=tuple(depths),
                                  num_heads=tuple(per_stage('num_heads', arch['num_heads'], num_stages)),
                                  mlp_ratios=tuple(per_stage('mlp_ratios', arch['mlp_ratios'], num_stages)),
                                  num_va_layers=tuple(num_va_layers))
        self.depths = tuple(depths)
        self.num_heads = self.arch_settings['num_heads']
        self.mlp_ratios = self.arch_settings['mlp_ratios']
        self.num_va_layers = tuple(num_va_layers)
        self.pool_size = pool_size
        self.kv_norm = kv_norm
        self.qkv_bias = qkv_bias
        self.patch_embed_type = patch_embed
        self.la_cfg = la_cfg
        self.carry = la_cfg['carry']
        self.dp_layers = dp_cfg['layers']
        self.use_rad = self.rad_cfg is not None
        first, later = PATCH_GEOMETRY[patch_embed]
        super().__init__(per_stage('embed_dims', arch['embed_dims'], num_stages), [first] + [later] * (num_stages - 1),
                         **kwargs)
        # loss_dp is computed only when a consumer (AuxLossWrapper, LaViTClassifier) collects it.
        self.collect_aux_losses = False
        self._dp_loss: Optional[torch.Tensor] = None
        self._warned_uncollected = False
        self.dp_loss = DiagonalityPreservingLoss(dp_cfg['loss_weight'], dp_cfg['term_weights'], pool_size) \
            if dp_cfg['loss_weight'] > 0 else None

    # ---------------------------------------------------------------------------------------- building
    def build_stage(self, stage: int, pretrain_hw: Tuple[int, int]) -> None:
        dims, heads = self.embed_dims[stage], self.num_heads[stage]
        if stage > 0 and self.use_rad:
            kernel, stride, padding = self.geometries[stage]
            setattr(self, f'rad{stage + 1}', ResidualAttentionDownsample(
                self.num_heads[stage - 1], heads, kernel_size=kernel, stride=stride, padding=padding,
                head_mix=self.rad_cfg['head_mix'], gate=self.rad_cfg['gate']))
        la = self.la_cfg
        common = dict(embed_dims=dims, num_heads=heads, pool_size=self.pool_size, kv_norm=self.kv_norm,
                      attn_drop=self.attn_drop_rate, proj_drop=self.drop_rate, mode=self.attn_mode)
        blocks = []
        for index, drop_path in enumerate(self.drop_path_rates(self.depths)[stage]):
            if index < self.num_va_layers[stage]:
                kind, attn = 'va', LaViTVanillaAttention(qkv_bias=self.qkv_bias, **common)
            else:
                kind, attn = 'la', LaViTLessAttention(
                    v_bias=self.qkv_bias, theta=la['theta'], theta_init=la['theta_init'], psi=la['psi'],
                    psi_kernel=la['psi_kernel'], psi_groups=la['psi_groups'], **common)
            blocks.append(LaViTBlock(kind, dims, attn, self.mlp_ratios[stage], self.drop_rate, drop_path,
                                     with_ffn=kind == 'va' or la['ffn']))
        setattr(self, f'stage{stage + 1}', nn.ModuleList(blocks))
        setattr(self, f'norm{stage + 1}', nn.LayerNorm(dims))

    def stage_parts(self, stage: int) -> List[nn.Module]:
        parts = [getattr(self, f'stage{stage + 1}'), getattr(self, f'norm{stage + 1}')]
        if stage >= 1 and self.use_rad:
            parts.append(getattr(self, f'rad{stage + 1}'))
        return parts

    # ---------------------------------------------------------------------------------------- loss_dp
    def _dp_selected(self, stage: int, block: LaViTBlock) -> bool:
        trainable = stage + 1 > max(self.frozen_stages, 0)
        return trainable and (self.dp_layers == 'all' or block.kind == 'la')

    def pop_aux_losses(self) -> Dict[str, torch.Tensor]:
        """``{'loss_dp': scalar}`` from the last training forward (empty if none), and forget it."""
        loss, self._dp_loss = self._dp_loss, None
        return {} if loss is None else {'loss_dp': loss}

    # ---------------------------------------------------------------------------------------- forward
    def new_forward_context(self) -> Dict[str, Any]:
        self._dp_loss = None
        with_dp = self.training and self.dp_loss is not None
        if with_dp and not self.collect_aux_losses:
            if not self._warned_uncollected and not torch.compiler.is_compiling():  # logging breaks a graph
                print_log('LaViT: loss_dp is enabled but nothing collects it (wrap the detector/segmentor in '
                          "type='AuxLossWrapper'); loss_dp is not computed. Set dp_cfg=None to silence.",
                          logger='current', level=30)
                self._warned_uncollected = True
            with_dp = False
        return dict(carried=None, prev_hw=None, with_dp=with_dp, dp_inputs=[])

    def forward_stage(self, stage, tokens, hw_shape, context) -> torch.Tensor:
        residual = None
        if stage > 0 and self.use_rad:
            residual = getattr(self, f'rad{stage + 1}')(context['carried'], context['prev_hw'], hw_shape)
        for index, block in enumerate(getattr(self, f'stage{stage + 1}')):
            prev = context['carried'] if block.kind == 'la' else (residual if index == 0 else None)
            tokens, logits, probs = self._call_block(block, tokens, hw_shape, prev)
            context['carried'] = logits if self.carry == 'logits' else probs
            if context['with_dp'] and self._dp_selected(stage, block):
                context['dp_inputs'].append((probs, hw_shape))
        context['prev_hw'] = hw_shape
        return getattr(self, f'norm{stage + 1}')(tokens)

    def finish_forward(self, context: Dict[str, Any]) -> None:
        if context['dp_inputs']:
            self._dp_loss = self.dp_loss(context['dp_inputs'])
