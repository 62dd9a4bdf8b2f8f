"""The PVT (v1) skeleton shared by Agent-PVT and FLatten-PVT (spec: agent_attention.md §4.1,
flatten_attention.md §4.1). Module names follow the official checkpoints: ``patch_embed{i}.{proj,norm}``,
``pos_embed{i}``, ``block{i}.{j}`` (1-based stages)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from ..layers.common import DerivedTensorCache, init_linear_trunc_normal, resize_token_embedding
from ..layers.layout import parse_layout
from .base import AttentionFactory, BackboneBase, BlockSpec, TransformerBlock

__all__ = ['PVTSkeleton', 'PVTPatchEmbed']


class PVTPatchEmbed(nn.Module):
    """Conv k×k stride k (no padding: the grid is ⌊H/k⌋×⌊W/k⌋) then LayerNorm (eps 1e-5).

    Shapes: (B, C_in, H, W) -> (B, ⌊H/k⌋·⌊W/k⌋, C), (⌊H/k⌋, ⌊W/k⌋).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(x)
        return self.norm(x.flatten(2).transpose(1, 2)), (x.shape[2], x.shape[3])


class PVTSkeleton(BackboneBase):
    """Four-stage PVT pyramid: per stage a non-overlapping patch embedding (stride 4, then 2), a learned
    position embedding stored at the 224 grid and bilinearly resized to the actual grid, and blocks whose
    attention the layout string chooses.

    The position embedding of stage i is resized whenever (H_i, W_i) differs from that stage's own
    pretraining grid (the official code compared every stage with the stage-1 token count, spec D4).
    Patch embeddings floor odd sizes, as the official code does; the input must be at least 32 px.

    Outputs: a tuple of the stage maps (B, C_i, H_i, W_i) for i in ``out_indices`` (strides 4, 8, 16, 32).
    """

    checkpoint_layout = 'pvt'
    min_input_size = 32

    def __init__(self,
                 embed_dims: Sequence[int],
                 depths: Sequence[int],
                 num_heads: Sequence[int],
                 mlp_ratios: Sequence[float],
                 attn_type: str,
                 layout_letters: Tuple[str, str],
                 attn_factory: AttentionFactory,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 pretrain_img_size: int = 224,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 pos_embed_interp: str = 'bilinear',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_stages = len(depths)
        for name, values in (('embed_dims', embed_dims), ('num_heads', num_heads), ('mlp_ratios', mlp_ratios)):
            if len(values) != num_stages:
                raise ValueError(f'{name} {list(values)} must have one entry per stage ({num_stages})')
        if pos_embed_interp not in ('bilinear', 'bicubic'):
            raise ValueError(f"pos_embed_interp must be 'bilinear' or 'bicubic', got {pos_embed_interp!r}")
        self._check_indices(type(self).__name__, out_indices, frozen_stages, num_stages)
        self.embed_dims = tuple(embed_dims)
        self.depths = tuple(depths)
        self.num_heads = tuple(num_heads)
        self.attn_type = attn_type
        self.block_letters = parse_layout(attn_type, depths, *layout_letters)
        self.num_stages = num_stages
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.pos_embed_interp = pos_embed_interp
        self.pos_embed_cache = DerivedTensorCache()

        drop_paths = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.pretrain_grids = []
        grid = pretrain_img_size // patch_size
        for stage in range(num_stages):
            dims = embed_dims[stage]
            stride = patch_size if stage == 0 else 2
            self.pretrain_grids.append((grid, grid))
            setattr(self, f'patch_embed{stage + 1}',
                    PVTPatchEmbed(in_channels if stage == 0 else embed_dims[stage - 1], dims, stride))
            setattr(self, f'pos_embed{stage + 1}', nn.Parameter(torch.zeros(1, grid * grid, dims)))
            setattr(self, f'pos_drop{stage + 1}', nn.Dropout(drop_rate))
            blocks = []
            for index in range(depths[stage]):
                spec = BlockSpec(letter=self.block_letters[stage][index], stage=stage, index=index,
                                 embed_dims=dims, num_heads=num_heads[stage], pretrain_hw=(grid, grid),
                                 attn_drop=attn_drop_rate, proj_drop=drop_rate, qkv_bias=qkv_bias)
                blocks.append(TransformerBlock(dims, attn_factory(spec), mlp_ratios[stage], drop_rate,
                                               drop_paths[sum(depths[:stage]) + index], norm_eps=1e-6))
            setattr(self, f'block{stage + 1}', nn.ModuleList(blocks))
            grid //= 2
        self._finish_init(self._default_init)

    def _default_init(self) -> None:
        for stage in range(self.num_stages):
            nn.init.trunc_normal_(getattr(self, f'pos_embed{stage + 1}'), std=.02)
        init_linear_trunc_normal(self)

    def _stage_modules(self, stage: int):
        # Stage 0 is the stem (patch_embed1 + pos_embed1); stage k >= 1 is everything of PVT stage k.
        first = max(stage, 1)
        modules = [getattr(self, f'patch_embed{first}'), getattr(self, f'pos_embed{first}')]
        if stage >= 1:
            modules.append(getattr(self, f'block{stage}'))
        return modules

    def pos_embed_at(self, stage: int, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``pos_embed{stage+1}`` resized to (H, W): (1, H·W, C); untouched at the stage's pretraining grid."""
        pos_embed = getattr(self, f'pos_embed{stage + 1}')
        grid, hw_shape = self.pretrain_grids[stage], tuple(hw_shape)
        if hw_shape == grid:
            return pos_embed
        return self.pos_embed_cache.get(
            self, (stage, hw_shape), (pos_embed, ),
            lambda: resize_token_embedding(pos_embed, grid, hw_shape, self.pos_embed_interp))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        height, width = x.shape[-2:]
        if min(height, width) < self.min_input_size:
            raise ValueError(f'{type(self).__name__} needs inputs of at least {self.min_input_size}x'
                             f'{self.min_input_size} px (4 stride-2^k stages without padding); got {height}x{width}')
        batch = x.shape[0]
        outs = []
        for stage in range(self.num_stages):
            tokens, hw_shape = getattr(self, f'patch_embed{stage + 1}')(x)
            tokens = getattr(self, f'pos_drop{stage + 1}')(tokens + self.pos_embed_at(stage, hw_shape))
            tokens = self._run_blocks(getattr(self, f'block{stage + 1}'), tokens, hw_shape)
            x = tokens.reshape(batch, *hw_shape, -1).permute(0, 3, 1, 2).contiguous()
            if stage in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'PVTSkeleton':
        self.pos_embed_cache.clear()
        return super().train(mode)
