"""SeparableRoIAlign: mmcv's RoIAlign as two products per image on small CPU maps (mmagent/models/roi)."""
import importlib

import pytest
import torch
from mmcv.ops import roi_align
from mmdet.registry import MODELS

from mmagent.models.roi import SeparableRoIAlign, SeparableRoIExtractor, separable_roi_align

module = importlib.import_module('mmagent.models.roi.separable_roi_align')


def random_rois(num: int, batch: int, image_size: float, generator: torch.Generator, sort: bool = True):
    """RoIs of every size up to 0.9 of the image, some reaching past its borders (mmcv samples them as zero)."""
    corner = torch.rand(num, 2, generator=generator) * image_size * 1.1 - 0.1 * image_size
    size = torch.rand(num, 2, generator=generator) * image_size * 0.9
    image = torch.randint(0, batch, (num, 1), generator=generator).float()
    if sort:
        image = image.sort(0).values
    return torch.cat([image, corner, corner + size], 1)


@pytest.mark.parametrize('output_size,sampling_ratio,aligned,sort', [
    ((7, 7), 0, True, True),      # mmdet's bbox RoI layer
    ((14, 14), 0, True, False),   # its mask RoI layer, RoIs not grouped by image
    ((7, 5), 2, True, True),      # fixed sampling, non-square bins
    ((7, 7), 0, False, True),     # mmcv's legacy (aligned=False) rule
])
def test_equals_mmcv_values_and_gradients(output_size, sampling_ratio, aligned, sort):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(3, 8, 20, 28, generator=generator, requires_grad=True)
    scale = 0.25
    rois = random_rois(40, 3, 28 / scale, generator, sort)
    rois[0, 3:] = rois[0, 1:3]  # an empty RoI: zeros in both
    grad = torch.randn(40, 8, *output_size, generator=generator)
    expected = roi_align(features, rois, output_size, scale, sampling_ratio, 'avg', aligned)
    expected_grad, = torch.autograd.grad(expected, features, grad)
    pooled = separable_roi_align(features, rois, output_size, scale, sampling_ratio, aligned)
    pooled_grad, = torch.autograd.grad(pooled, features, grad)
    assert pooled.shape == (40, 8, *output_size) and pooled.is_contiguous()
    assert expected.abs().max() > 0.5  # the comparison is not between zeros
    torch.testing.assert_close(pooled, expected, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(pooled_grad, expected_grad, atol=2e-5, rtol=1e-5)


def test_layer_uses_products_on_small_cpu_maps_and_mmcv_elsewhere(monkeypatch):
    calls = []
    original = module.separable_roi_align
    monkeypatch.setattr(module, 'separable_roi_align', lambda *a, **k: calls.append(1) or original(*a, **k))
    generator = torch.Generator().manual_seed(1)
    layer = SeparableRoIAlign(7, spatial_scale=0.5, max_separable_area=16 * 16)
    for size, products in ((16, True), (17, False)):
        features = torch.randn(2, 4, size, size, generator=generator)
        rois = random_rois(6, 2, size / 0.5, generator)
        calls.clear()
        torch.testing.assert_close(layer(features, rois), roi_align(features, rois, 7, 0.5, 0, 'avg', True),
                                   atol=2e-6, rtol=1e-5)
        assert bool(calls) == products


def test_float32_under_bf16_autocast_and_no_rois():
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(1, 4, 12, 12, generator=generator)
    rois = random_rois(5, 1, 48, generator)
    layer = SeparableRoIAlign(7, spatial_scale=0.25)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pooled = layer(features, rois)
    assert pooled.dtype == torch.float32
    torch.testing.assert_close(pooled, roi_align(features, rois, 7, 0.25, 0, 'avg', True), atol=2e-6, rtol=1e-5)
    assert layer(features, rois[:0]).shape == (0, 4, 7, 7)


def test_clear_errors():
    with pytest.raises(ValueError, match='average pooling'):
        SeparableRoIAlign(7, pool_mode='max')
    with pytest.raises(ValueError, match='x2 >= x1'):
        separable_roi_align(torch.zeros(1, 2, 8, 8), torch.tensor([[0., 10., 10., 5., 20.]]), (7, 7), 0.25)
    with pytest.raises(ValueError, match=r'batch indices must lie in \[0, 2\)'):
        separable_roi_align(torch.zeros(2, 2, 8, 8), torch.tensor([[2., 1., 1., 5., 5.]]), (7, 7), 0.25)
    with pytest.raises(ValueError, match='replaces RoIAlign'):
        MODELS.build(dict(type='SeparableRoIExtractor', roi_layer=dict(type='RoIPool', output_size=7),
                          out_channels=4, featmap_strides=[4]))


def test_extractor_is_a_drop_in_for_mmdets():
    config = dict(roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0), out_channels=8,
                  featmap_strides=[4, 8, 16, 32])
    ours = MODELS.build(dict(type='SeparableRoIExtractor', **config))
    theirs = MODELS.build(dict(type='SingleRoIExtractor', **config))
    assert isinstance(ours, SeparableRoIExtractor)
    assert all(isinstance(layer, SeparableRoIAlign) for layer in ours.roi_layers)
    generator = torch.Generator().manual_seed(3)
    feats = [torch.randn(2, 8, 64 // s, 64 // s, generator=generator) for s in (4, 8, 16, 32)]
    rois = random_rois(30, 2, 64, generator)
    torch.testing.assert_close(ours(feats, rois), theirs(feats, rois), atol=2e-6, rtol=1e-5)


def test_traced_calls_take_mmcvs_kernel():
    """The FLOPs tool and export trace the model: they see mmcv's op, which they know, not the products."""
    layer = SeparableRoIAlign(7, spatial_scale=0.25)
    features = torch.randn(1, 4, 12, 12)
    rois = torch.tensor([[0., 4., 4., 30., 40.]])
    graph = torch.jit.trace(layer, (features, rois), check_trace=False).graph
    assert 'RoIAlign' in str(graph) and 'aten::bmm' not in str(graph)
