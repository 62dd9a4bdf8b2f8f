"""tools/flops.py and mmagent.analysis: the cost terms of each attention op, the operator handles,
the whole-model = backbone + heads decomposition, and the published FLOPs (docs/flops.md) within 3%.

The published-number tests are ``slow``. They count each backbone at full size and each distinct head
configuration once (``measure_parts`` with a shared heads cache); test_decomposition_is_exact proves on the
same configs, at small inputs, that backbone + heads equals the whole-model count to the FLOP.
"""
import json
import math
import os.path as osp
import subprocess
import sys
from typing import Dict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.analysis import (Complexity, count_flops, load_config, measure, measure_parts, resolve_config_path,
                              skipped_op_note)
from mmagent.models.layers import AgentAttention, FocusedLinearAttention, ShiftedWindowAttention

from .conftest import REPO_ROOT

MMDET_SWIN_T = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
MMSEG_SWIN_T = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
TOLERANCE = 0.03

# Published whole-model GFLOPs at 1280x800 (COCO) / 512x2048 (ADE20K). Baselines
# first: their heads are cached for the rows that share them. FLatten-PVT-T Mask R-CNN (published 244 G) is
# not reproducible by any consistent convention: see test_flatten_pvt_t_detection_deviation.
PUBLISHED_DOWNSTREAM = [
    (MMDET_SWIN_T, 267),
    (MMSEG_SWIN_T, 945),
    ('configs/agent_swin/mask-rcnn_agent-swin-t_fpn_1x_coco.py', 276),
    ('configs/agent_swin/mask-rcnn_agent-swin-s_fpn_1x_coco.py', 364),
    ('configs/flatten_swin/mask-rcnn_flatten-swin-t_fpn_1x_coco.py', 268),
    ('configs/agent_pvt/mask-rcnn_agent-pvt-t_fpn_1x_coco.py', 230),
    ('configs/agent_pvt/mask-rcnn_agent-pvt-s_fpn_1x_coco.py', 293),
    ('configs/agent_pvt/mask-rcnn_agent-pvt-m_fpn_1x_coco.py', 400),
    ('configs/agent_pvt/mask-rcnn_agent-pvt-l_fpn_1x_coco.py', 510),
    ('configs/agent_swin/upernet_agent-swin-t_8xb2-160k_ade20k-512x512.py', 954),
    ('configs/agent_swin/upernet_agent-swin-s_8xb2-160k_ade20k-512x512.py', 1043),
    ('configs/flatten_swin/upernet_flatten-swin-t_8xb2-160k_ade20k-512x512.py', 946),
    ('configs/flatten_swin/upernet_flatten-swin-s_8xb2-160k_ade20k-512x512.py', 1038),
    ('configs/agent_swin/upernet_agent-swin-b_8xb2-160k_ade20k-512x512.py', 1196),
]

# The --classification form of a downstream config at 224x224 (GFLOPs as published, params (M) of the official
# classification model). Every size of every family is counted through its ImageNet config in
# tests/test_classification.py.
PUBLISHED_CLASSIFICATION = [
    (MMDET_SWIN_T, 4.5, 28.29),  # baseline, mmdet's own Swin (the official Swin-T has 28,288,354 parameters)
    ('configs/agent_swin/mask-rcnn_agent-swin-t_fpn_1x_coco.py', 4.5, 28.90),
    ('configs/flatten_pvtv2/mask-rcnn_flatten-pvtv2-b1_fpn_1x_coco.py', 2.2, 12.93),
]


class _WithShape(nn.Module):
    """Calls an attention op with a fixed (H, W): tracing takes tensors only."""

    def __init__(self, attn: nn.Module, hw_shape) -> None:
        super().__init__()
        self.attn, self.hw_shape = attn, tuple(hw_shape)

    def forward(self, x):
        return self.attn(x, self.hw_shape)


def ops(module: nn.Module, *inputs, hw_shape=None) -> Dict[str, int]:
    root = module if hw_shape is None else _WithShape(module, hw_shape)
    root.eval()
    return dict(count_flops(root, inputs).by_operator())


def attention_macs(counts: Dict[str, int]) -> int:
    """Attention matmuls, explicit (``matmul``, the naive forms) or fused (``scaled_dot_product_attention``)."""
    return counts.get('matmul', 0) + counts.get('scaled_dot_product_attention', 0)


def uncounted(result: Complexity):
    """Skipped operators that do arithmetic the convention counts (should be none)."""
    return [op for op in result.skipped if skipped_op_note(op).startswith('NOT COUNTED')]


# ---------------------------------------------------------------------------------------------- block costs
def test_agent_block_counts_agent_matmuls():
    """An A block spends 4·N·n'·C on its four agent matmuls, 4·N·C² on projections, k²·N·C on the
    DWC, N·C on the agent pooling, and its bias resizes are counted (4 per output element)."""
    c, heads, agent_num, agent_shape, hw = 64, 2, 9, (4, 5), (12, 10)
    attn = AgentAttention(c, heads, agent_num=agent_num, agent_shape=agent_shape, pretrain_hw=7)
    n, n_agents, n_pre = hw[0] * hw[1], agent_shape[0] * agent_shape[1], agent_num
    counts = ops(attn, torch.randn(1, n, c), hw_shape=hw)
    assert attention_macs(counts) == 4 * n * n_agents * c
    assert counts['linear'] == 4 * n * c * c
    assert counts['conv'] == 9 * n * c
    assert counts['adaptive_avg_pool2d'] == n * c
    # four token-axis resizes (h, n, H, W) and one agent-axis resize (2h, N, a_h, a_w), bilinear
    assert counts['upsample_bilinear2d'] == 4 * (4 * heads * n_pre * n) + 4 * (2 * heads * n * n_agents)


def test_agent_bias_resizes_counted_after_cache_is_warm():
    """DerivedTensorCache is bypassed while tracing: a count after an inference forward at the same size still
    contains the resizes."""
    attn = AgentAttention(32, 2, agent_num=9, agent_shape=(4, 4), pretrain_hw=7).eval()
    x = torch.randn(1, 80, 32)
    cold = ops(attn, x, hw_shape=(8, 10))
    with torch.no_grad():
        attn(x, (8, 10))
    assert len(attn.bias_cache) == 1
    assert ops(attn, x, hw_shape=(8, 10)) == cold


def test_window_block_counts_window_matmuls():
    """A B block spends 2·N·49·C on attention matmuls, N counted on the map padded to /7."""
    c = 32
    attn = ShiftedWindowAttention(c, 2, window_size=7, shift_size=3)
    counts = ops(attn, torch.randn(1, 10 * 12, c), hw_shape=(10, 12))
    assert attention_macs(counts) == 2 * (14 * 14) * 49 * c
    assert counts['linear'] == 4 * (14 * 14) * c * c


def test_focused_linear_block_counts():
    """docs/flops.md: 2·N·C·d for KᵀV and Q(KᵀV), N·C for the normaliser, 25·N·C for the
    5×5 DWC, and the bicubic positional-encoding resize (16 taps per output element)."""
    c, heads, hw = 64, 2, (12, 10)
    d, n = c // heads, hw[0] * hw[1]
    attn = FocusedLinearAttention(c, heads, pretrain_hw=7)
    counts = ops(attn, torch.randn(1, n, c), hw_shape=hw)
    assert counts['bmm'] == 2 * n * c * d + n * c
    assert counts['conv'] == 25 * n * c
    assert counts['linear'] == 4 * n * c * c
    assert counts['upsample_bicubic2d'] == 16 * c * n
    # at the stored grid the encoding is used as is
    assert 'upsample_bicubic2d' not in ops(attn, torch.randn(1, 49, c), hw_shape=(7, 7))


# ---------------------------------------------------------------------------------------------- handles
class _Ops(nn.Module):

    def forward(self, x, q, k, v, bias, a, b):
        return (F.interpolate(x, size=(9, 11), mode='bicubic', align_corners=False),
                F.scaled_dot_product_attention(q, k, v), torch.baddbmm(bias, a, b))


def test_extra_handles():
    x = torch.randn(1, 3, 4, 5)
    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 6, 8), torch.randn(2, 3, 6, 4)
    bias, a, b = torch.randn(4, 5, 7), torch.randn(4, 5, 6), torch.randn(4, 6, 7)
    counts = ops(_Ops(), x, q, k, v, bias, a, b)
    assert counts['upsample_bicubic2d'] == 16 * 3 * 9 * 11
    assert counts['scaled_dot_product_attention'] == 2 * 3 * 10 * 6 * (8 + 4)
    assert counts['baddbmm'] == 4 * 5 * 6 * 7


def test_fused_multihead_attention_counts_like_unfused():
    """nn.MultiheadAttention takes its fused inference path while counting (eval, no grad); it must count
    what the unfused path (training mode) counts."""

    class SelfAttention(nn.Module):

        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    module, x = SelfAttention(), torch.randn(3, 10, 16)
    fused = count_flops(module.eval(), (x, ))
    assert '_native_multi_head_attention' in fused.by_operator()
    unfused = count_flops(module.train(), (x, ))
    assert '_native_multi_head_attention' not in unfused.by_operator()
    assert fused.total() == unfused.total() == 3 * (4 * 10 * 16 * 16 + 2 * 10 * 10 * 16)


# ---------------------------------------------------------------------------------------------- tool API
def test_config_path_errors():
    with pytest.raises(FileNotFoundError, match='no/such/config.py'):
        resolve_config_path('no/such/config.py')
    with pytest.raises(FileNotFoundError, match='not installed'):
        resolve_config_path('mmnothing::a/b.py')
    with pytest.raises(FileNotFoundError, match='swin/nope.py'):
        resolve_config_path('mmdet::swin/nope.py')
    assert osp.isfile(resolve_config_path(MMDET_SWIN_T))


def test_config_without_custom_imports_and_sync_bn(tmp_path):
    """A config with no custom_imports (mmagent imported by the caller) and mmseg's SyncBN heads counts in a
    single process; the auxiliary head is built (params) but not run (FLOPs)."""
    path = tmp_path / 'upernet_agent_pvt.py'
    path.write_text("_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'\n"
                    "model = dict(backbone=dict(_delete_=True, type='AgentPVT', arch='t', agent_shapes=4),\n"
                    "             decode_head=dict(in_channels=[64, 128, 320, 512], channels=32),\n"
                    "             auxiliary_head=dict(in_channels=320, channels=16))\n")
    cfg = load_config(str(path))
    assert 'custom_imports' not in cfg and cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    result = measure(cfg, shape=(64, 96))
    assert result.mode == 'model' and result.task == 'mmseg' and result.input_shape == (64, 96)
    assert 'auxiliary_head' in result.uncalled and result.module_params['auxiliary_head'] > 0
    assert result.flops == result.by_module['backbone'] + result.by_module['decode_head']
    assert not uncounted(result)


def test_cli_json_and_table(tmp_path):
    out = tmp_path / 'flops.json'
    proc = subprocess.run([sys.executable, 'tools/flops.py', 'configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py',
                           '--shape', '96', '128', '--json', str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data['shape'] == [96, 128] and data['input_shape'] == [96, 128] and data['mode'] == 'model'
    assert data['flops_g'] > 0 and data['params_m'] > data['params_by_module_m']['backbone'] > 11
    assert math.isclose(sum(v for k, v in data['by_module_g'].items() if k and '.' not in k), data['flops_g'],
                        rel_tol=1e-9)
    for row in ('backbone.block1', 'neck', 'rpn_head', 'roi_head.bbox_head', 'skipped by fvcore',
                'prim::PythonOp.RoIAlignFunction'):
        assert row in proc.stdout

    missing = subprocess.run([sys.executable, 'tools/flops.py', 'configs/no_such.py'], cwd=REPO_ROOT,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "config file not found: 'configs/no_such.py'" in missing.stderr


# ---------------------------------------------------------------------------------------------- decomposition
@pytest.mark.slow
@pytest.mark.parametrize('config, shape', [
    ('configs/agent_swin/mask-rcnn_agent-swin-t_fpn_1x_coco.py', (256, 320)),
    ('configs/flatten_pvt/mask-rcnn_flatten-pvt-t_fpn_1x_coco.py', (256, 320)),
    ('configs/agent_swin/upernet_agent-swin-t_8xb2-160k_ade20k-512x512.py', (128, 256)),
    ('configs/agent_swin/cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py', (256, 320)),
])
def test_decomposition_is_exact(config, shape):
    """Whole model = standalone backbone + heads on stub features, to the FLOP, per module and per operator
    (with 100 RPN proposals: the split does not depend on their number, and 1000 would only cost time)."""
    whole = measure(config, shape=shape, num_proposals=100)
    backbone, heads = measure_parts(config, shape=shape, num_proposals=100)
    assert whole.flops == backbone.flops + heads.flops
    assert whole.by_module['backbone'] == backbone.flops
    for op, value in whole.by_operator.items():
        assert value == backbone.by_operator.get(op, 0) + heads.by_operator.get(op, 0), op
    assert whole.params == backbone.params + heads.params


# ---------------------------------------------------------------------------------------------- published numbers
@pytest.fixture(scope='module')
def heads_cache():
    return {}


@pytest.fixture(scope='module')
def backbone_cache():
    return {}


# The further downstream rows of the official Agent repository and the FLatten / LaViT papers: whole-model
# GFLOPs (1280x800 / 512x2048) and params (M, as published: whole numbers).
# The backbones of the Swin and PVT rows are counted once (backbone_cache) for Mask R-CNN, Cascade and RetinaNet.
PUBLISHED_MORE_DOWNSTREAM = [
    ('configs/agent_swin/cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py', 755, 86),
    ('configs/agent_swin/cascade-mask-rcnn_agent-swin-t_fpn_ms-3x_coco.py', 755, 86),
    ('configs/agent_swin/cascade-mask-rcnn_agent-swin-s_fpn_ms-3x_coco.py', 843, 107),
    ('configs/agent_swin/cascade-mask-rcnn_agent-swin-b_fpn_ms-3x_coco.py', 990, 145),
    ('configs/flatten_swin/cascade-mask-rcnn_flatten-swin-t_fpn_ms-3x_coco.py', 747, 87),
    ('configs/flatten_swin/cascade-mask-rcnn_flatten-swin-s_fpn_ms-3x_coco.py', 841, 108),
    ('configs/agent_pvt/retinanet_agent-pvt-t_fpn_1x_coco.py', 211, 21),
    ('configs/agent_pvt/retinanet_agent-pvt-s_fpn_1x_coco.py', 274, 30),
    ('configs/agent_pvt/retinanet_agent-pvt-m_fpn_1x_coco.py', 382, 46),
    ('configs/agent_pvt/retinanet_agent-pvt-l_fpn_1x_coco.py', 492, 58),
    ('configs/agent_pvt/fpn_agent-pvt-t_8xb2-40k_ade20k-512x512.py', 147, 15),
    ('configs/agent_pvt/fpn_agent-pvt-s_8xb2-40k_ade20k-512x512.py', 211, 24),
    ('configs/agent_pvt/fpn_agent-pvt-m_8xb2-40k_ade20k-512x512.py', 321, 40),
    ('configs/agent_pvt/fpn_agent-pvt-l_8xb2-40k_ade20k-512x512.py', 434, 52),
    # FLatten-PVT-T Semantic FPN (169 G) and LaViT-S Semantic FPN (122 G, second-hand): not reachable by any
    # consistent count, see test_flatten_pvt_t_segmentation_deviation / test_lavit_s_fpn_deviation
]


@pytest.mark.slow
@pytest.mark.parametrize('config, published, params_m', PUBLISHED_MORE_DOWNSTREAM)
def test_more_downstream_flops_and_params_match_published(config, published, params_m, heads_cache,
                                                           backbone_cache):
    backbone, heads = measure_parts(config, heads_cache=heads_cache, backbone_cache=backbone_cache)
    total = (backbone.flops + heads.flops) / 1e9
    assert abs(total / published - 1) <= TOLERANCE, f'{total:.2f} G vs published {published} G'
    ours = (backbone.params + heads.params) / 1e6
    assert round(ours) == params_m, f'{ours:.2f} M vs published {params_m} M'
    assert not uncounted(backbone) and not uncounted(heads)


@pytest.mark.slow
@pytest.mark.parametrize('config, published', PUBLISHED_DOWNSTREAM)
def test_downstream_flops_match_published(config, published, heads_cache, backbone_cache):
    backbone, heads = measure_parts(config, heads_cache=heads_cache, backbone_cache=backbone_cache)
    total = (backbone.flops + heads.flops) / 1e9
    assert abs(total / published - 1) <= TOLERANCE, f'{total:.2f} G vs published {published} G'
    assert not uncounted(backbone) and not uncounted(heads)


@pytest.mark.slow
@pytest.mark.parametrize('config, published, params_m', PUBLISHED_CLASSIFICATION)
def test_classification_flops_match_published(config, published, params_m):
    result = measure(config, mode='classification')
    assert result.shape == (224, 224)
    assert abs(result.flops_g / published - 1) <= TOLERANCE, f'{result.flops_g:.3f} G vs published {published} G'
    assert abs(result.params_m - params_m) <= 0.01, f'{result.params_m:.3f} M'
    assert not uncounted(result)


# PVT-T Mask R-CNN as the PVT repository trains it (mmdet's PVT v1), the baseline beside FLatten-PVT-T.
PVT_T_MASK_RCNN = """_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
model = dict(backbone=dict(_delete_=True, type='PyramidVisionTransformer', num_layers=[2, 2, 2, 2]),
             neck=dict(in_channels=[64, 128, 320, 512]))
"""
FLATTEN_PVT_T_OURS = 212.15  # G, docs/flops.md
PVT_T_MASK_RCNN_OURS = 239.82  # G, docs/flops.md
FLATTEN_PVT_T_FPN_OURS = 129.12  # G, docs/flops.md
LAVIT_S_FPN_OURS = 149.95  # G, docs/flops.md


@pytest.mark.slow
def test_flatten_pvt_t_detection_deviation(tmp_path, heads_cache):
    """Published: PVT-T 240 G, FLatten-PVT-T 244 G (FLatten paper, Table 2a). The convention reproduces PVT-T,
    and counts FLatten-PVT-T at 212 G: its linear attention replaces PVT's spatial-reduction attention, whose
    N x N/R^2 matmuls (bmm) cost 31.7 G at 1280x800. The published 244 G equals our count plus exactly those
    matmuls, so we assert our own number and that arithmetic (docs/flops.md)."""
    path = tmp_path / 'mask-rcnn_pvt-t_fpn_1x_coco.py'
    path.write_text(PVT_T_MASK_RCNN)
    pvt_backbone, pvt_heads = measure_parts(str(path), heads_cache=heads_cache)
    pvt_total = (pvt_backbone.flops + pvt_heads.flops) / 1e9
    assert abs(pvt_total / 240 - 1) <= TOLERANCE, f'PVT-T {pvt_total:.2f} G vs published 240 G'

    backbone, heads = measure_parts('configs/flatten_pvt/mask-rcnn_flatten-pvt-t_fpn_1x_coco.py',
                                    heads_cache=heads_cache)
    assert heads.flops == pvt_heads.flops  # same Mask R-CNN heads on the same feature shapes
    total = (backbone.flops + heads.flops) / 1e9
    assert abs(total / FLATTEN_PVT_T_OURS - 1) <= 0.005, f'{total:.2f} G'
    assert not uncounted(backbone)
    sra_matmuls = pvt_backbone.by_operator['bmm'] / 1e9
    assert abs((total + sra_matmuls) / 244 - 1) <= TOLERANCE, f'{total:.2f} + {sra_matmuls:.2f} G vs 244 G'


PVT_T_SEMANTIC_FPN = """_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmdet.models', 'mmagent'], allow_failed_imports=False)
model = dict(pretrained=None,
             backbone=dict(_delete_=True, type='mmdet.PyramidVisionTransformer', num_layers=[2, 2, 2, 2]),
             neck=dict(in_channels=[64, 128, 320, 512]))
"""


@pytest.fixture(scope='module')
def pvt_t_fpn(tmp_path_factory, heads_cache, backbone_cache):
    """mmdet's PVT-T (v1) in mmseg's Semantic FPN, the baseline of the FLatten paper's Table 1 (158 G)."""
    path = tmp_path_factory.mktemp('pvt_fpn') / 'fpn_pvt-t_ade20k-512x512.py'
    path.write_text(PVT_T_SEMANTIC_FPN)
    return measure_parts(str(path), heads_cache=heads_cache, backbone_cache=backbone_cache)


@pytest.mark.slow
def test_flatten_pvt_t_segmentation_deviation(tmp_path, pvt_t_fpn, heads_cache, backbone_cache):
    """Published (FLatten paper, Table 1, 512x2048): PVT-T 158 G, FLatten-PVT-T 169 G; in Table 2a (1280x800)
    PVT-T 240 G, FLatten-PVT-T 244 G. The two tables hold the same two backbones at almost the same pixel count
    (1.049 vs 1.024 Mpx), so any consistent count gives nearly the same FLatten-minus-PVT difference in both; the
    published differences are +11 G and +4 G. The count that explains 244 G (ours + PVT-T's SRA matmuls,
    test_flatten_pvt_t_detection_deviation) gives 162.4 G here, 3.9 % below 169 G (docs/flops.md)."""
    pvt_backbone, pvt_heads = pvt_t_fpn
    pvt_total = (pvt_backbone.flops + pvt_heads.flops) / 1e9
    assert abs(pvt_total / 158 - 1) <= TOLERANCE, f'PVT-T {pvt_total:.2f} G vs published 158 G'
    backbone, heads = measure_parts('configs/flatten_pvt/fpn_flatten-pvt-t_8xb2-40k_ade20k-512x512.py',
                                    heads_cache=heads_cache, backbone_cache=backbone_cache)
    assert heads.flops == pvt_heads.flops  # same Semantic FPN on the same feature shapes
    total = (backbone.flops + heads.flops) / 1e9
    assert abs(total / FLATTEN_PVT_T_FPN_OURS - 1) <= 0.005, f'{total:.2f} G'
    assert round((backbone.params + heads.params) / 1e6) == 16  # the published 16 M
    sra_matmuls = pvt_backbone.by_operator['bmm'] / 1e9
    assert abs(total + sra_matmuls - 162.4) <= 0.5, f'{total:.2f} + {sra_matmuls:.2f} G'
    # the FLatten-minus-PVT difference of our count scales with the pixels between the two tables ...
    ours_seg, ours_det = total - pvt_total, FLATTEN_PVT_T_OURS - PVT_T_MASK_RCNN_OURS
    assert abs(ours_seg / ours_det / ((512 * 2048) / (1280 * 800)) - 1) <= 0.05, (ours_seg, ours_det)
    # ... the published one does not: +11 G vs +4 G
    assert (169 - 158) - (244 - 240) > 6


@pytest.mark.slow
def test_lavit_s_fpn_deviation(pvt_t_fpn, heads_cache, backbone_cache):
    """LaViT-S Semantic FPN, 122 G (second-hand, configs/lavit/README.md). The Semantic FPN heads cost 86.06 G at
    512x2048 whatever the backbone (the same as under PVT-T, whose 158 G we reproduce), which would leave 36 G for
    LaViT-S: about half of our LaViT-S backbone (63.9 G), whose ImageNet count matches the published 3.3 G
    (tests/test_lavit.py). mmagent's LaViT is an interpretation; the number is asserted as ours (docs/flops.md)."""
    backbone, heads = measure_parts('configs/lavit/fpn_lavit-s_8xb2-40k_ade20k-512x512.py', heads_cache=heads_cache,
                                    backbone_cache=backbone_cache)
    assert heads.flops == pvt_t_fpn[1].flops
    total = (backbone.flops + heads.flops) / 1e9
    assert abs(total / LAVIT_S_FPN_OURS - 1) <= 0.005, f'{total:.2f} G'
    implied_backbone = 122 - heads.flops / 1e9
    assert implied_backbone / (backbone.flops / 1e9) < 0.6


@pytest.mark.slow
def test_pvt_t_classification_baseline(tmp_path):
    """The classification form of mmdet's PVT-T: 1.9 G and 13.2 M published (PVT paper)."""
    path = tmp_path / 'mask-rcnn_pvt-t_fpn_1x_coco.py'
    path.write_text(PVT_T_MASK_RCNN)
    result = measure(str(path), mode='classification')
    assert abs(result.flops_g / 1.9 - 1) <= TOLERANCE, f'{result.flops_g:.3f} G'
    assert abs(result.params_m - 13.2) <= 0.05
