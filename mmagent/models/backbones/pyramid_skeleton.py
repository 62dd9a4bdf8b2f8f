"""The pyramid skeleton shared by the PVT families and LaViT (docs/design/skeletons.md): per stage a conv patch
embedding, a learned position embedding stored at the pretraining grid and resized to the actual grid, and
the stage's blocks, which the subclass builds and runs.

Module names follow the official PVT checkpoints: ``patch_embed{m}.{proj,norm}``, ``pos_embed{m}``,
``pos_drop{m}`` and the blocks ``{stage_prefix}{m}`` (1-based stages).
"""
from typing import Any, ClassVar, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

from ..layers.common import resize_token_embedding
from ..layers.export import capturing_graph
from .base import BackboneBase

__all__ = ['PyramidSkeleton', 'ConvPatchEmbed', 'conv_out']

Geometry = Tuple[int, int, int]  # (kernel, stride, padding)


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


class ConvPatchEmbed(nn.Module):
    """Conv k×k stride s padding p (with bias), then LayerNorm.

    Shapes: (B, C_in, H, W) -> (B, H'·W', C), (H', W') with H' = ⌊(H + 2p − k) / s⌋ + 1.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int, stride: int, padding: int = 0) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size, stride, padding)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(x)
        return self.norm(x.flatten(2).transpose(1, 2)), (x.shape[2], x.shape[3])


class PyramidSkeleton(BackboneBase):
    """Multi-stage pyramid without padding in the stem: stage m embeds the previous map with its own conv
    (``geometries[m]``), adds ``pos_embed{m}`` (resized bilinearly or bicubically whenever the grid differs from
    *that stage's own* pretraining grid) and runs the blocks that the subclass builds in :meth:`build_stage`
    and runs in :meth:`forward_stage`.

    Args:
        embed_dims: channels per stage.
        geometries: (kernel, stride, padding) of each stage's patch embedding.
        pos_embed_interp: ``'bilinear'`` or ``'bicubic'`` resize of the position embeddings.
        pos_embed_align_corners: ``align_corners`` of that resize (False).
        **kwargs: the arguments shared by every backbone (:class:`BackboneBase`).

    Outputs: a tuple of the stage maps (B, C_i, H_i, W_i) for i in ``out_indices``; inputs smaller than
    ``min_input_size`` (the smallest side for which every stage keeps a token) raise a ``ValueError``.
    """

    stage_prefix: ClassVar[str] = 'block'
    with_pos_embed: ClassVar[bool] = True  # PVTv2 has none (its position information comes from convolutions)

    def __init__(self,
                 embed_dims: Sequence[int],
                 geometries: Sequence[Geometry],
                 *,
                 pos_embed_interp: str = 'bilinear',
                 pos_embed_align_corners: bool = False,
                 **kwargs) -> None:
        if pos_embed_interp not in ('bilinear', 'bicubic'):
            raise ValueError(f"pos_embed_interp must be 'bilinear' or 'bicubic', got {pos_embed_interp!r}")
        super().__init__(len(embed_dims), **kwargs)
        self.embed_dims = tuple(embed_dims)
        self.stage_channels = self.embed_dims
        self.geometries = tuple(tuple(g) for g in geometries)
        self.pos_embed_interp = pos_embed_interp
        self.pos_embed_align_corners = pos_embed_align_corners
        self.pos_embed_cache = self.new_derived_cache()
        self.pretrain_grids: List[Tuple[int, int]] = []
        grid = self.pretrain_img_size
        for stage, dims in enumerate(self.embed_dims):
            grid = conv_out(grid, *self.geometries[stage])
            self.pretrain_grids.append((grid, grid))
            in_channels = self.in_channels if stage == 0 else self.embed_dims[stage - 1]
            setattr(self, f'patch_embed{stage + 1}', ConvPatchEmbed(in_channels, dims, *self.geometries[stage]))
            if self.with_pos_embed:
                pos_embed = nn.Parameter(torch.zeros(1, grid * grid, dims))
                nn.init.trunc_normal_(pos_embed, std=.02)
                setattr(self, f'pos_embed{stage + 1}', pos_embed)
                setattr(self, f'pos_drop{stage + 1}', nn.Dropout(self.drop_rate))
            self.build_stage(stage, (grid, grid))
        self.min_input_size = next(s for s in range(1, 4097) if min(min(g) for g in self.stage_grids(s, s)) >= 1)
        self._freeze_stages()

    # ---------------------------------------------------------------------------------------- hooks
    def build_stage(self, stage: int, pretrain_hw: Tuple[int, int]) -> None:
        """Register the modules of ``stage`` (0-based) after its embeddings: at least ``{stage_prefix}{m}``."""
        raise NotImplementedError

    def forward_stage(self, stage: int, tokens: torch.Tensor, hw_shape: Tuple[int, int],
                      context: Dict[str, Any]) -> torch.Tensor:
        """Run the blocks of ``stage`` on its embedded tokens (B, H·W, C); ``context`` lives for one forward."""
        raise NotImplementedError

    def stage_parts(self, stage: int) -> List[nn.Module]:
        """The modules of ``stage`` (0-based) besides its embeddings, frozen together with them."""
        return [getattr(self, f'{self.stage_prefix}{stage + 1}')]

    def new_forward_context(self) -> Dict[str, Any]:
        return {}

    def finish_forward(self, context: Dict[str, Any]) -> None:
        """Called after the last stage of a forward."""

    # ---------------------------------------------------------------------------------------- geometry
    def stage_grids(self, height: int, width: int) -> List[Tuple[int, int]]:
        grids = []
        for geometry in self.geometries:
            height, width = conv_out(height, *geometry), conv_out(width, *geometry)
            grids.append((height, width))
        return grids

    def pos_embed_at(self, stage: int, hw_shape: Tuple[int, int]) -> torch.Tensor:
        """``pos_embed{stage+1}`` at (H, W): (1, H·W, C). Resized only when (H, W) differs from the same
        stage's own pretraining grid (never compared with another stage's token count)."""
        pos_embed = getattr(self, f'pos_embed{stage + 1}')
        grid, hw_shape = self.pretrain_grids[stage], tuple(hw_shape)
        if not capturing_graph() and hw_shape == grid:  # a captured graph resizes for every input size
            return pos_embed
        return self.pos_embed_cache.get(
            self, (stage, hw_shape), (pos_embed, ), lambda: resize_token_embedding(
                pos_embed, grid, hw_shape, self.pos_embed_interp, self.pos_embed_align_corners))

    def _stage_modules(self, stage: int):
        # Stage 0 is the stem (patch_embed1 + pos_embed1); stage k >= 1 is everything of stage k.
        first = max(stage, 1)
        modules = [getattr(self, f'patch_embed{first}')]
        if self.with_pos_embed:
            modules.append(getattr(self, f'pos_embed{first}'))
        if stage >= 1:
            modules += self.stage_parts(stage - 1)
        return modules

    # ---------------------------------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        height, width = x.shape[-2:]
        if min(height, width) < self.min_input_size:
            raise ValueError(f'{type(self).__name__} needs inputs of at least {self.min_input_size}x'
                             f'{self.min_input_size} px (every stage must keep a token); got {height}x{width}')
        batch = x.shape[0]
        context = self.new_forward_context()
        outs = []
        for stage in range(self.num_stages):
            tokens, hw_shape = getattr(self, f'patch_embed{stage + 1}')(x)
            if self.with_pos_embed:
                tokens = getattr(self, f'pos_drop{stage + 1}')(tokens + self.pos_embed_at(stage, hw_shape))
            tokens = self.forward_stage(stage, tokens, hw_shape, context)
            x = tokens.reshape(batch, *hw_shape, -1).permute(0, 3, 1, 2).contiguous()
            if stage in self.out_indices:
                outs.append(x)
        self.finish_forward(context)
        return tuple(outs)
