"""RoIAlign on the CPU as two small matrix products per image, for the small feature maps of CPU training.

mmcv's CPU ``RoIAlign`` runs on one thread and its backward recomputes every sample's bilinear weights once per
channel; in the demo's Mask R-CNN (batch 4 at 192²) it took about a quarter of each training iteration. Average
RoIAlign is separable: every sample of a bin lies on a grid of rows × columns, its bilinear weight is a row
weight times a column weight, a sample outside the map (``y < -1``, ``y > H``, ``x < -1`` or ``x > W``)
contributes zero whichever coordinate is out, and the bin average divides by ``grid_h · grid_w``. So for RoI
``n`` of image ``b``::

    out[n, c] = A_y[n] @ x[b, c] @ A_x[n]ᵀ        A_y: (out_h, H), A_x: (out_w, W)

where row ``i`` of ``A_y[n]`` holds the summed row weights of the samples of bin row ``i`` divided by their
count (mmcv's clamping at the map's edges and its adaptive ``ceil(roi_h / out_h)`` samples per bin included).
The products are dense over the whole map, i.e. ``N · out_h · H · W · C`` multiply-adds per level, which is cheap
for small maps and wasteful for large ones: :class:`SeparableRoIAlign` uses them on CPU maps of at most
``max_separable_area`` cells and mmcv's kernel elsewhere (large maps, CUDA, traced calls). Both give the same values (to
float rounding); the gradient of the products is the exact adjoint, so it matches mmcv's backward as well.
"""
from typing import List, Sequence, Tuple, Union

import torch
from mmcv.ops import RoIAlign
from mmcv.ops.roi_align import roi_align
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

__all__ = ['SeparableRoIAlign', 'SeparableRoIExtractor', 'separable_roi_align', 'axis_sampling_weights']


def axis_sampling_weights(start: Tensor, length: Tensor, out_size: int, size: int, sampling_ratio: int) -> Tensor:
    """Sampling matrix of one axis: ``(N, out_size, size)``, row ``i`` of RoI ``n`` the averaged bilinear weights
    of the samples of its bin ``i`` over the map's ``size`` cells.

    Args:
        start: (N,) the RoIs' first coordinate on the feature map (after scaling and the aligned offset).
        length: (N,) their extent along the axis, in cells.
        out_size: bins along the axis.
        size: the map's cells along the axis.
        sampling_ratio: samples per bin along the axis; 0 takes ``ceil(length / out_size)`` per RoI (mmcv's
            adaptive rule).
    """
    num, dtype, device = start.shape[0], start.dtype, start.device
    bin_size = length / out_size
    if sampling_ratio > 0:
        grid = torch.full((num, ), sampling_ratio, dtype=dtype, device=device)
    else:
        grid = torch.ceil(length / out_size)
    samples = max(int(grid.max()), 1) if num else 1
    bins = torch.arange(out_size, dtype=dtype, device=device).view(1, -1, 1)
    steps = torch.arange(samples, dtype=dtype, device=device).view(1, 1, -1)
    grid_ = grid.view(-1, 1, 1)
    count = grid_.clamp(min=1)
    # same order of operations as mmcv's kernel: start + bin · size + (step + 0.5) · size / grid
    coord = start.view(-1, 1, 1) + bins * bin_size.view(-1, 1, 1) + (steps + .5) * bin_size.view(-1, 1, 1) / count
    inside = (steps < grid_) & (coord >= -1) & (coord <= size)
    coord = coord.clamp(min=0)
    low = coord.floor()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    frac = torch.where(at_edge, torch.zeros_like(coord), coord - low)
    weight = inside.to(dtype) / count
    low = low.long()
    high = torch.where(at_edge, low, low + 1)
    matrix = torch.zeros(num, out_size, size, dtype=dtype, device=device)
    matrix.scatter_add_(2, low, (1 - frac) * weight)
    matrix.scatter_add_(2, high, frac * weight)
    return matrix


def separable_roi_align(features: Tensor, rois: Tensor, output_size: Tuple[int, int], spatial_scale: float,
                        sampling_ratio: int = 0, aligned: bool = True) -> Tensor:
    """Average RoIAlign with mmcv's sampling as ``A_y @ x @ A_xᵀ`` per RoI.

    Args:
        features: (B, C, H, W) feature map.
        rois: (N, 5) rows ``(batch index, x1, y1, x2, y2)`` in image coordinates.
        output_size: (out_h, out_w) bins.
        spatial_scale: feature cells per image pixel.
        sampling_ratio: samples per bin along each axis; 0 for mmcv's adaptive ``ceil(roi size / bins)``.
        aligned: shift by half a cell (mmcv's ``aligned=True``, the mmdet default).

    Returns:
        (N, C, out_h, out_w) pooled features; differentiable with respect to ``features``.
    """
    out_h, out_w = output_size
    batch, channels, height, width = features.shape
    num = rois.shape[0]
    if num == 0:
        return features.new_zeros(num, channels, out_h, out_w)
    with torch.no_grad():  # the RoIs get no gradient, as in mmcv
        boxes = rois[:, 1:].to(features.dtype) * spatial_scale - (.5 if aligned else 0.)
        extent = boxes[:, 2:] - boxes[:, :2]
        if aligned:
            if bool((extent < 0).any()):
                raise ValueError('SeparableRoIAlign: RoIs must have x2 >= x1 and y2 >= y1 (aligned=True)')
        else:  # mmcv's legacy rule
            extent = extent.clamp(min=1)
        rows = axis_sampling_weights(boxes[:, 1], extent[:, 1], out_h, height, sampling_ratio)
        cols = axis_sampling_weights(boxes[:, 0], extent[:, 0], out_w, width, sampling_ratio)
        image_of = rois[:, 0].long()
        if bool((image_of < 0).any() or (image_of >= batch).any()):
            raise ValueError(f'SeparableRoIAlign: RoI batch indices must lie in [0, {batch}) for a batch of '
                             f'{batch} feature maps; got {sorted(set(image_of.tolist()))}')
        in_order = bool((image_of[1:] >= image_of[:-1]).all())  # mmdet's RoIs come grouped by image
        if not in_order:
            order = torch.argsort(image_of, stable=True)
            rows, cols = rows[order], cols[order]
        counts = torch.bincount(image_of, minlength=batch).tolist()
    pieces, first = [], 0
    for image, count in enumerate(counts):
        if count == 0:
            continue
        chunk = slice(first, first + count)
        first += count
        # rows first: (count · out_h, H) @ (H, C · W), then each RoI's columns in one batched product
        by_rows = features[image].transpose(0, 1).reshape(height, channels * width)
        pooled_rows = (rows[chunk].reshape(count * out_h, height) @ by_rows).view(count, out_h * channels, width)
        pieces.append(torch.bmm(pooled_rows, cols[chunk].transpose(1, 2)).view(count, out_h, channels, out_w))
    pooled = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
    if not in_order:
        pooled = pooled[torch.argsort(order)]
    return pooled.transpose(1, 2).contiguous()


class SeparableRoIAlign(RoIAlign):
    """mmcv's :class:`~mmcv.ops.RoIAlign` (average pooling) that runs as separable products on small CPU maps.

    Same arguments and outputs as mmcv's layer. On a CPU map of at most ``max_separable_area`` cells the two
    products of :func:`separable_roi_align` replace mmcv's single-threaded kernel; larger maps, CUDA tensors and
    traced calls (the FLOPs tool, export) take mmcv's kernel. The products run in the features' dtype with
    autocast off, so float32 features give float32 values, as mmcv's kernel does.

    Args:
        max_separable_area: largest ``H · W`` computed with the products (default 64²: the dense products cost
            ``N · out_h · H · W · C`` multiply-adds, which outgrows mmcv's sparse sampling on larger maps).
        other arguments: as :class:`mmcv.ops.RoIAlign`; ``pool_mode`` must be ``'avg'`` and
            ``use_torchvision`` False.
    """

    def __init__(self, output_size: Union[int, Sequence[int]], spatial_scale: float = 1.0, sampling_ratio: int = 0,
                 pool_mode: str = 'avg', aligned: bool = True, use_torchvision: bool = False,
                 max_separable_area: int = 64 * 64) -> None:
        if pool_mode != 'avg' or use_torchvision:
            raise ValueError(f"SeparableRoIAlign computes average pooling with mmcv's sampling; got "
                             f'pool_mode={pool_mode!r}, use_torchvision={use_torchvision}')
        super().__init__(output_size, spatial_scale, sampling_ratio, pool_mode, aligned, use_torchvision)
        self.max_separable_area = int(max_separable_area)

    def uses_products(self, features: Tensor) -> bool:
        # traced (FLOPs tool, export): mmcv's op, which the FLOPs tool and deployment know
        return (features.device.type == 'cpu' and features.shape[-2] * features.shape[-1] <= self.max_separable_area
                and not torch.jit.is_tracing())

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:  # noqa: A002 (mmcv's argument name)
        if not self.uses_products(input):
            return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.pool_mode,
                             self.aligned)
        with torch.autocast('cpu', enabled=False):
            return separable_roi_align(input, rois, _pair(self.output_size), self.spatial_scale, self.sampling_ratio,
                                       self.aligned)

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, max_separable_area={self.max_separable_area})'


@MODELS.register_module()
class SeparableRoIExtractor(SingleRoIExtractor):
    """mmdet's :class:`SingleRoIExtractor` with :class:`SeparableRoIAlign` as its RoI layer.

    A drop-in for ``type='SingleRoIExtractor'``: the same arguments, ``roi_layer=dict(type='RoIAlign', ...)``
    included (mmdet's registry resolves RoI layers in ``mmcv.ops`` by name only, hence this extractor);
    ``roi_layer`` may add ``max_separable_area``. Other RoI layer types are an error.
    """

    def build_roi_layers(self, layer_cfg: dict, featmap_strides: List[int]) -> nn.ModuleList:
        cfg = dict(layer_cfg)
        layer_type = cfg.pop('type')
        if layer_type not in ('RoIAlign', 'SeparableRoIAlign', RoIAlign, SeparableRoIAlign):
            raise ValueError(f"SeparableRoIExtractor replaces RoIAlign; got roi_layer type {layer_type!r} "
                             "(use mmdet's SingleRoIExtractor for other RoI layers)")
        return nn.ModuleList([SeparableRoIAlign(spatial_scale=1 / s, **cfg) for s in featmap_strides])
