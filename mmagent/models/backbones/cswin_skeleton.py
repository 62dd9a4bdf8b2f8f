"""The CSwin skeleton shared by Agent-CSwin and FLatten-CSwin (docs/design/skeletons.md): a 7×7 stride-4
convolutional stem, four stages of CSwin blocks joined by 3×3 stride-2 merge convolutions, and an output
norm per returned stage (CSwin itself has none). The efficient letter's blocks hold the family's attention
over the whole stage map; the host letter's blocks are CSwin's cross-shaped stripe attention.

Module names follow the official checkpoints: ``stage1_conv_embed.{0,2}`` (conv, LayerNorm),
``stage{m}.{j}.{norm1,qkv,attns.{0,1},proj,norm2,mlp}``, ``merge{m}.{conv,norm}``; mmagent adds ``norm{i}``.
"""
from typing import ClassVar, List, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath

from ..layers.common import Mlp, init_linear_trunc_normal, per_stage
from ..layers.cswin_attention import StripeAttention
from ..layers.layout import parse_layout
from .base import BackboneBase, BlockSpec
from .pyramid_skeleton import conv_out

__all__ = ['CSwinSkeleton', 'CSwinBlock', 'CSWIN_SIZES']

# CSwin-T/S/B widths and depths; a family adds its layout per size (base.with_layouts). FLatten-CSwin-S is
# deeper in stage 3 (2-4-32-2) than Agent-CSwin-S (3-6-29-2): the families override 's'.
CSWIN_SIZES = {
    't': dict(embed_dims=64, depths=(2, 4, 18, 1), num_heads=(2, 4, 8, 16)),
    's': dict(embed_dims=64, depths=(3, 6, 29, 2), num_heads=(2, 4, 8, 16)),
    'b': dict(embed_dims=96, depths=(3, 6, 29, 2), num_heads=(4, 8, 16, 32)),
}

STEM = (7, 4, 2)  # kernel, stride, padding: the official stem (padding 2, not 3)
MERGE = (3, 2, 1)


class MapToTokens(nn.Module):
    """(B, C, H, W) -> (B, H·W, C): the parameter-free middle of the official stem ``Sequential``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class MergeBlock(nn.Module):
    """Conv 3×3 stride 2 padding 1, then LayerNorm (keys ``conv``, ``norm``).

    Shapes: (B, H·W, C), (H, W) -> (B, H'·W', C'), (H', W') with H' = ⌈H/2⌉.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, *MERGE)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        batch, _, channels = x.shape
        x = self.conv(x.transpose(1, 2).reshape(batch, channels, *hw_shape))
        return self.norm(x.flatten(2).transpose(1, 2)), (x.shape[2], x.shape[3])


class CSwinBlock(nn.Module):
    """x + DropPath(proj(branches(qkv(LN(x))))), then x + DropPath(MLP(LN(x))).

    One branch gets the whole Q/K/V; two branches get one channel half each and their outputs are
    concatenated (the cross-shaped window: vertical then horizontal stripes).

    Shapes: ``forward(x, hw_shape)``: (B, H·W, C) -> (B, H·W, C).
    """

    def __init__(self, embed_dims: int, branches: Sequence[nn.Module], mlp_ratio: float, qkv_bias: bool, drop: float,
                 drop_path: float) -> None:
        super().__init__()
        if len(branches) not in (1, 2):
            raise ValueError(f'a CSwin block has one or two attention branches, got {len(branches)}')
        self.norm1 = nn.LayerNorm(embed_dims)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attns = nn.ModuleList(branches)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop)
        for linear in (self.qkv, self.proj):  # the MLP and the branches initialise themselves
            init_linear_trunc_normal(linear)

    def forward(self, x: torch.Tensor, hw_shape: Tuple[int, int]) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        if len(self.attns) == 1:
            out = self.attns[0](q, k, v, hw_shape)
        else:
            half = x.shape[-1] // 2
            out = torch.cat([self.attns[0](q[..., :half], k[..., :half], v[..., :half], hw_shape),
                             self.attns[1](q[..., half:], k[..., half:], v[..., half:], hw_shape)], dim=-1)
        x = x + self.drop_path(self.proj_drop(self.proj(out)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class CSwinSkeleton(BackboneBase):
    """Four-stage CSwin hierarchy. A family subclass sets ``layout_letters`` (efficient, host) and
    ``build_efficient_branch`` (its attention on projected Q/K/V, over the whole stage map).

    Args:
        arch: a name of the family's ``arch_zoo`` or a dict with ``embed_dims`` (channels of stage 1, doubled at
            every stage), ``depths``, ``num_heads`` and ``attn_type`` (layout string, e.g. ``AABB``; see
            :func:`~mmagent.models.layers.layout.parse_layout`). Each key may also be passed as an argument.
        split_sizes: stripe width of the host blocks per stage (1, 2, 7, 7). A host block has two branches
            (vertical and horizontal stripes, half the heads each) unless it is in the last stage or its stage
            map at ``pretrain_img_size`` equals its stripe width; then it has one branch over the whole map.
        mlp_ratio: MLP expansion (4).
        qkv_bias: bias of the Q/K/V projection (True).
        **kwargs: the arguments shared by every backbone (:class:`BackboneBase`).

    Outputs: for each i in ``out_indices``, ``norm{i}`` of the stage's last block, (B, C·2^i, H_i, W_i) with
    H_1 = ⌊(H − 3) / 4⌋ + 1 (the official stem) and H_i = ⌈H_{i−1} / 2⌉.
    """

    checkpoint_layout = 'cswin'
    benchmark_baseline = 'swin'
    layout_letters: ClassVar[Tuple[str, str]] = ('', '')

    def __init__(self,
                 arch: Union[str, dict, None] = None,
                 *,
                 split_sizes: Sequence[int] = (1, 2, 7, 7),
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 **kwargs) -> None:
        arch = self.resolve_arch_from(arch, kwargs)
        embed_dims, depths, num_heads = arch['embed_dims'], tuple(arch['depths']), tuple(arch['num_heads'])
        if len(num_heads) != len(depths):
            raise ValueError(f'depths {list(depths)} and num_heads {list(num_heads)} differ in length')
        super().__init__(len(depths), **kwargs)
        self.embed_dims = embed_dims
        self.depths = depths
        self.num_heads = num_heads
        self.split_sizes = tuple(per_stage('split_sizes', split_sizes, self.num_stages))
        self.attn_type = arch['attn_type']
        self.block_letters = parse_layout(self.attn_type, depths, *self.layout_letters)
        self.num_features = [embed_dims * 2**i for i in range(self.num_stages)]
        self.stage_channels = tuple(self.num_features)

        self.stage1_conv_embed = nn.Sequential(
            nn.Conv2d(self.in_channels, embed_dims, *STEM), MapToTokens(), nn.LayerNorm(embed_dims))
        pretrain_grids = self.stage_grids(self.pretrain_img_size, self.pretrain_img_size)
        for stage, drop_paths in enumerate(self.drop_path_rates(depths)):
            dims = self.num_features[stage]
            if stage > 0:
                setattr(self, f'merge{stage}', MergeBlock(self.num_features[stage - 1], dims))
            blocks = []
            for index, drop_path in enumerate(drop_paths):
                spec = BlockSpec(letter=self.block_letters[stage][index], stage=stage, index=index,
                                 num_stages=self.num_stages, embed_dims=dims, num_heads=num_heads[stage],
                                 pretrain_hw=pretrain_grids[stage], attn_drop=self.attn_drop_rate,
                                 proj_drop=self.drop_rate, qkv_bias=qkv_bias)
                blocks.append(CSwinBlock(dims, self.build_branches(spec), mlp_ratio, qkv_bias, self.drop_rate,
                                         drop_path))
            setattr(self, f'stage{stage + 1}', nn.ModuleList(blocks))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self.min_input_size = next(s for s in range(1, 4097) if min(min(g) for g in self.stage_grids(s, s)) >= 1)
        self._freeze_stages()

    # ---------------------------------------------------------------------------------------- blocks
    def build_branches(self, spec: BlockSpec) -> List[nn.Module]:
        if spec.letter == self.layout_letters[0]:
            return [self.build_efficient_branch(spec)]
        split = self.split_sizes[spec.stage]
        if spec.stage == spec.num_stages - 1 or spec.pretrain_hw == (split, split):
            return [StripeAttention(spec.embed_dims, spec.num_heads, 'global', split, spec.attn_drop)]
        if spec.embed_dims % 2 or spec.num_heads % 2:
            raise ValueError(f'stage {spec.stage + 1}: a two-branch CSwin block splits channels and heads in '
                             f'half; got {spec.embed_dims} channels and {spec.num_heads} heads')
        return [StripeAttention(spec.embed_dims // 2, spec.num_heads // 2, stripe, split, spec.attn_drop)
                for stripe in ('vertical', 'horizontal')]

    def build_efficient_branch(self, spec: BlockSpec) -> nn.Module:
        """The family's attention over the whole map on projected Q/K/V, with LePE; defined by the family."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------- geometry
    def stage_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        height, width = conv_out(height, *STEM), conv_out(width, *STEM)
        grids = [(height, width)]
        for _ in range(self.num_stages - 1):
            height, width = conv_out(height, *MERGE), conv_out(width, *MERGE)
            grids.append((height, width))
        return grids

    def keys_added_on_purpose(self):
        return {f'norm{i}.{p}' for i in self.out_indices for p in ('weight', 'bias')}

    def _stage_modules(self, stage: int):
        if stage == 0:
            return [self.stage1_conv_embed]
        modules = [getattr(self, f'stage{stage}')]
        if stage > 1:
            modules.append(getattr(self, f'merge{stage - 1}'))
        if stage - 1 in self.out_indices:
            modules.append(getattr(self, f'norm{stage - 1}'))
        return modules

    # ---------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        height, width = x.shape[-2:]
        if min(height, width) < self.min_input_size:
            raise ValueError(f'{type(self).__name__} needs inputs of at least {self.min_input_size}x'
                             f'{self.min_input_size} px; got {height}x{width}')
        stem_conv, to_tokens, stem_norm = self.stage1_conv_embed
        x = stem_conv(x)
        hw_shape = (x.shape[2], x.shape[3])
        x = stem_norm(to_tokens(x))
        outs = []
        for stage in range(self.num_stages):
            if stage > 0:
                x, hw_shape = getattr(self, f'merge{stage}')(x, hw_shape)
            for block in getattr(self, f'stage{stage + 1}'):
                x = self._call_block(block, x, hw_shape)
            if stage in self.out_indices:
                out = getattr(self, f'norm{stage}')(x)
                outs.append(out.view(-1, *hw_shape, self.num_features[stage]).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
