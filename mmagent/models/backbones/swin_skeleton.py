"""The Swin skeleton shared by Agent-Swin and FLatten-Swin: they differ only in the attention of each
block, which an attention factory chooses from the layout string (spec: agent_attention.md §3.1).

Module names follow the official checkpoints: ``patch_embed.{proj,norm}``, ``layers.{i}.blocks.{j}``,
``layers.{i}.downsample.{norm,reduction}`` and the output norms ``norm{i}``.
"""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers.common import init_linear_trunc_normal
from ..layers.layout import parse_layout
from .base import AttentionFactory, BackboneBase, BlockSpec, TransformerBlock

__all__ = ['SwinSkeleton', 'SwinPatchEmbed', 'PatchMerging']


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
        if width % p or height % p:
            x = F.pad(x, (0, (p - width % p) % p, 0, (p - height % p) % p))
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

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        height, width = hw_shape
        batch, _, channels = x.shape
        x = x.view(batch, height, width, channels)
        if height % 2 or width % 2:
            x = F.pad(x, (0, 0, 0, width % 2, 0, height % 2))
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
    """Four-stage Swin hierarchy with the attention of each block chosen by the layout string.

    Outputs: a tuple with, for each i in ``out_indices``, ``norm{i}`` of the stage output before merging,
    (B, C·2^i, H_i, W_i) at strides 4, 8, 16, 32. Any input size works: the stem pads to the patch size and
    merging pads odd sizes.
    """

    checkpoint_layout = 'swin'

    def __init__(self,
                 embed_dims: int,
                 depths: Sequence[int],
                 num_heads: Sequence[int],
                 attn_type: str,
                 layout_letters: Tuple[str, str],
                 attn_factory: AttentionFactory,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_stages = len(depths)
        if len(num_heads) != num_stages:
            raise ValueError(f'depths {list(depths)} and num_heads {list(num_heads)} differ in length')
        self._check_indices(type(self).__name__, out_indices, frozen_stages, num_stages)
        self.embed_dims = embed_dims
        self.depths = tuple(depths)
        self.num_heads = tuple(num_heads)
        self.attn_type = attn_type
        self.block_letters = parse_layout(attn_type, depths, *layout_letters)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.num_features = [embed_dims * 2**i for i in range(num_stages)]

        self.patch_embed = SwinPatchEmbed(in_channels, embed_dims, patch_size)
        self.pos_drop = nn.Dropout(drop_rate)
        drop_paths = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.layers = nn.ModuleList()
        grid = pretrain_img_size // patch_size
        for stage, depth in enumerate(depths):
            dims, heads = self.num_features[stage], num_heads[stage]
            blocks = []
            for index in range(depth):
                spec = BlockSpec(letter=self.block_letters[stage][index], stage=stage, index=index,
                                 embed_dims=dims, num_heads=heads, pretrain_hw=(grid, grid),
                                 attn_drop=attn_drop_rate, proj_drop=drop_rate, qkv_bias=qkv_bias)
                blocks.append(TransformerBlock(dims, attn_factory(spec), mlp_ratio, drop_rate,
                                               drop_paths[sum(depths[:stage]) + index], norm_eps=1e-5))
            downsample = PatchMerging(dims) if stage < num_stages - 1 else None
            self.layers.append(SwinStage(blocks, downsample))
            grid //= 2
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self._finish_init(lambda: init_linear_trunc_normal(self))

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
            x = self._run_blocks(layer.blocks, x, hw_shape)
            if stage in self.out_indices:
                out = getattr(self, f'norm{stage}')(x)
                outs.append(out.view(-1, *hw_shape, self.num_features[stage]).permute(0, 3, 1, 2).contiguous())
            if layer.downsample is not None:
                x, hw_shape = layer.downsample(x, hw_shape)
        return tuple(outs)
