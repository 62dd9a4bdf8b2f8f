"""The Swin skeleton shared by Agent-Swin and FLatten-Swin: they differ only in the efficient attention of
their layout's first letter; the second letter is Swin's shifted-window attention (docs/design/skeletons.md).

Module names follow the official checkpoints: ``patch_embed.{proj,norm}``, ``layers.{i}.blocks.{j}``,
``layers.{i}.downsample.{norm,reduction}`` and the output norms ``norm{i}``.
"""
from typing import ClassVar, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers.common import init_linear_trunc_normal
from ..layers.export import capturing_graph
from ..layers.layout import parse_layout
from ..layers.window_attention import ShiftedWindowAttention
from .base import BackboneBase, BlockSpec, TransformerBlock

__all__ = ['SwinSkeleton', 'SwinPatchEmbed', 'PatchMerging', 'SWIN_SIZES']

# Swin-T/S/B widths and depths; a family adds its layout per size (base.with_layouts).
SWIN_SIZES = {
    't': dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24)),
    's': dict(embed_dims=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)),
    'b': dict(embed_dims=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32)),
}


class SwinPatchEmbed(nn.Module):
    """Pad right/bottom to a multiple of the patch, Conv p×p stride p, flatten, LayerNorm.

    Shapes: (B, 3, H, W) -> (B, ⌈H/p⌉·⌈W/p⌉, C), (⌈H/p⌉, ⌈W/p⌉).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        p = self.patch_size
        height, width = x.shape[-2:]
        if capturing_graph() or width % p or height % p:  # a captured graph pads whatever the size
            # ceil-div form: simpler symbolic sizes for torch.compile(dynamic=True) than ``(p - w % p) % p``
            x = F.pad(x, (0, (width + p - 1) // p * p - width, 0, (height + p - 1) // p * p - height))
        x = self.proj(x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


class PatchMerging(nn.Module):
    """2×2 neighbour concat (order: even/even, odd/even, even/odd, odd/odd; odd sizes padded by one),
    LayerNorm(4C), Linear 4C -> 2C without bias.

    Shapes: (B, H·W, C), (H, W) -> (B, ⌈H/2⌉·⌈W/2⌉, 2C), (⌈H/2⌉, ⌈W/2⌉).
    """

    def __init__(self, embed_dims: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * embed_dims)
        self.reduction = nn.Linear(4 * embed_dims, 2 * embed_dims, bias=False)
        init_linear_trunc_normal(self)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        height, width = hw_shape
        batch, _, channels = x.shape
        x = x.view(batch, height, width, channels)
        if capturing_graph() or height % 2 or width % 2:
            x = F.pad(x, (0, 0, 0, (width + 1) // 2 * 2 - width, 0, (height + 1) // 2 * 2 - height))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        out_hw = (x.shape[1], x.shape[2])
        return self.reduction(self.norm(x.reshape(batch, -1, 4 * channels))), out_hw


class SwinStage(nn.Module):
    """``blocks`` followed by an optional ``downsample`` (keys ``layers.{i}.blocks`` / ``.downsample``)."""

    def __init__(self, blocks: List[nn.Module], downsample: Union[nn.Module, None]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample


class SwinSkeleton(BackboneBase):
    """Four-stage Swin hierarchy. A family subclass sets ``layout_letters`` (efficient, host) and
    ``build_efficient_attention``; the host letter's blocks are shifted-window attention (shift
    ``window_size // 2`` on odd blocks).

    Args:
        arch: a name of the family's ``arch_zoo`` or a dict with ``embed_dims`` (channels of stage 1, doubled at
            every stage), ``depths``, ``num_heads`` (per stage) and ``attn_type`` (the layout string: one letter
            per stage, efficient, host or ``M`` for mixed, and with an ``M`` stage the number of its leading
            efficient blocks, e.g. ``AAMB2``). Each of these keys may also be passed as an argument, overriding
            the named arch.
        window_size: window of the host blocks (7).
        patch_size: stride of the stem (4).
        mlp_ratio: MLP expansion (4).
        qkv_bias: biases of the Q/K/V projections.
        no_shift_on_small_map: host blocks skip the shift on a stage map that fits in one window, as the official
            classification models do (None: the family's default, :attr:`no_shift_on_small_map`).
        **kwargs: the arguments shared by every backbone (:class:`BackboneBase`).

    Outputs: a tuple with, for each i in ``out_indices``, ``norm{i}`` of the stage output before merging,
    (B, C·2^i, H_i, W_i) at strides 4, 8, 16, 32. Any input size works: the stem pads to the patch size and
    merging pads odd sizes.
    """

    checkpoint_layout = 'swin'
    benchmark_baseline = 'swin'
    qkv_layout: ClassVar[str] = 'qkv'
    layout_letters: ClassVar[Tuple[str, str]] = ('', '')
    # The classification Swin drops the shift when the map fits in one window; Agent's downstream code does not.
    no_shift_on_small_map: ClassVar[bool] = False

    def __init__(self,
                 arch: Union[str, dict, None] = None,
                 *,
                 window_size: int = 7,
                 patch_size: int = 4,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 no_shift_on_small_map: Optional[bool] = None,
                 **kwargs) -> None:
        arch = self.resolve_arch_from(arch, kwargs)
        if no_shift_on_small_map is not None:
            self.no_shift_on_small_map = no_shift_on_small_map
        embed_dims, depths, num_heads = arch['embed_dims'], tuple(arch['depths']), tuple(arch['num_heads'])
        if len(num_heads) != len(depths):
            raise ValueError(f'depths {list(depths)} and num_heads {list(num_heads)} differ in length')
        super().__init__(len(depths), **kwargs)
        self.embed_dims = embed_dims
        self.depths = depths
        self.num_heads = num_heads
        self.attn_type = arch['attn_type']
        self.block_letters = parse_layout(self.attn_type, depths, *self.layout_letters)
        self.window_size = window_size
        self.num_features = [embed_dims * 2**i for i in range(self.num_stages)]
        self.stage_channels = tuple(self.num_features)

        self.patch_embed = SwinPatchEmbed(self.in_channels, embed_dims, patch_size)
        self.pos_drop = nn.Dropout(self.drop_rate)
        self.layers = nn.ModuleList()
        grid = self.pretrain_img_size // patch_size
        for stage, drop_paths in enumerate(self.drop_path_rates(depths)):
            dims, heads = self.num_features[stage], num_heads[stage]
            blocks = []
            for index, drop_path in enumerate(drop_paths):
                spec = BlockSpec(letter=self.block_letters[stage][index], stage=stage, index=index,
                                 num_stages=self.num_stages, embed_dims=dims, num_heads=heads, pretrain_hw=(grid, grid),
                                 attn_drop=self.attn_drop_rate, proj_drop=self.drop_rate, qkv_bias=qkv_bias)
                blocks.append(TransformerBlock(dims, self.build_attention(spec), mlp_ratio, self.drop_rate, drop_path,
                                               norm_eps=1e-5))
            downsample = PatchMerging(dims) if stage < self.num_stages - 1 else None
            self.layers.append(SwinStage(blocks, downsample))
            grid //= 2
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self._freeze_stages()

    def build_attention(self, spec: BlockSpec) -> nn.Module:
        if spec.letter == self.layout_letters[0]:
            return self.build_efficient_attention(spec)
        return ShiftedWindowAttention(
            spec.embed_dims, spec.num_heads, window_size=self.window_size,
            shift_size=0 if spec.index % 2 == 0 else self.window_size // 2, qkv_bias=spec.qkv_bias,
            attn_drop=spec.attn_drop, proj_drop=spec.proj_drop, no_shift_on_small_map=self.no_shift_on_small_map)

    def build_efficient_attention(self, spec: BlockSpec) -> nn.Module:
        """The family's attention (layout letter ``layout_letters[0]``); defined by the family mixin."""
        raise NotImplementedError

    def stage_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        p = self.patch_embed.patch_size
        grids, height, width = [], -(-height // p), -(-width // p)
        for _ in range(self.num_stages):
            grids.append((height, width))
            height, width = -(-height // 2), -(-width // 2)
        return grids

    def keys_added_on_purpose(self):
        return {f'norm{i}.{p}' for i in self.out_indices for p in ('weight', 'bias')}

    def _stage_modules(self, stage: int):
        if stage == 0:
            return [self.patch_embed]
        modules = [self.layers[stage - 1]]
        if stage - 1 in self.out_indices:
            modules.append(getattr(self, f'norm{stage - 1}'))
        return modules

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x, hw_shape = self.patch_embed(x)
        x = self.pos_drop(x)
        outs = []
        for stage, layer in enumerate(self.layers):
            for block in layer.blocks:
                x = self._call_block(block, x, hw_shape)
            if stage in self.out_indices:
                out = getattr(self, f'norm{stage}')(x)
                outs.append(out.view(-1, *hw_shape, self.num_features[stage]).permute(0, 3, 1, 2).contiguous())
            if layer.downsample is not None:
                x, hw_shape = layer.downsample(x, hw_shape)
        return tuple(outs)
