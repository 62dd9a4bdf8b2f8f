"""Every config in configs/ builds; whole-model parameter counts match the published rounding (±0.6 M)."""
import glob
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from .conftest import REPO_ROOT

# Every detection / segmentation config a user runs; configs/_base_ holds fragments that only make sense
# inherited, and the ImageNet (mmpretrain) configs are built and counted in tests/test_classification.py.
CONFIGS = sorted(osp.relpath(p, REPO_ROOT) for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                                                                  recursive=True)
                 if '/_base_/' not in p and '/imagenet/' not in p)

# published params (M), as in the configs' READMEs
PUBLISHED_PARAMS_M = {
    'configs/agent_swin/mask-rcnn_agent-swin-t_fpn_1x_coco.py': 48,
    'configs/agent_swin/mask-rcnn_agent-swin-t_fpn_ms-3x_coco.py': 48,
    'configs/agent_swin/mask-rcnn_agent-swin-s_fpn_1x_coco.py': 69,
    'configs/agent_swin/mask-rcnn_agent-swin-s_fpn_ms-3x_coco.py': 69,
    'configs/agent_pvt/mask-rcnn_agent-pvt-t_fpn_1x_coco.py': 31,
    'configs/agent_pvt/mask-rcnn_agent-pvt-s_fpn_1x_coco.py': 40,
    'configs/agent_pvt/mask-rcnn_agent-pvt-m_fpn_1x_coco.py': 56,
    'configs/agent_pvt/mask-rcnn_agent-pvt-l_fpn_1x_coco.py': 68,
    'configs/agent_swin/upernet_agent-swin-t_8xb2-160k_ade20k-512x512.py': 61,
    'configs/agent_swin/upernet_agent-swin-s_8xb2-160k_ade20k-512x512.py': 81,
    'configs/agent_swin/upernet_agent-swin-b_8xb2-160k_ade20k-512x512.py': 121,
    'configs/flatten_swin/mask-rcnn_flatten-swin-t_fpn_1x_coco.py': 49,
    'configs/flatten_swin/mask-rcnn_flatten-swin-t_fpn_ms-3x_coco.py': 49,
    'configs/flatten_pvt/mask-rcnn_flatten-pvt-t_fpn_1x_coco.py': 32,
    'configs/flatten_swin/upernet_flatten-swin-t_8xb2-160k_ade20k-512x512.py': 60,
    'configs/flatten_swin/upernet_flatten-swin-s_8xb2-160k_ade20k-512x512.py': 82,
    'configs/agent_swin/cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py': 86,
    'configs/agent_swin/cascade-mask-rcnn_agent-swin-t_fpn_ms-3x_coco.py': 86,
    'configs/agent_swin/cascade-mask-rcnn_agent-swin-s_fpn_ms-3x_coco.py': 107,
    'configs/agent_swin/cascade-mask-rcnn_agent-swin-b_fpn_ms-3x_coco.py': 145,
    'configs/flatten_swin/cascade-mask-rcnn_flatten-swin-t_fpn_ms-3x_coco.py': 87,
    'configs/flatten_swin/cascade-mask-rcnn_flatten-swin-s_fpn_ms-3x_coco.py': 108,
    'configs/agent_pvt/retinanet_agent-pvt-t_fpn_1x_coco.py': 21,
    'configs/agent_pvt/retinanet_agent-pvt-s_fpn_1x_coco.py': 30,
    'configs/agent_pvt/retinanet_agent-pvt-m_fpn_1x_coco.py': 46,
    'configs/agent_pvt/retinanet_agent-pvt-l_fpn_1x_coco.py': 58,
    'configs/agent_pvt/fpn_agent-pvt-t_8xb2-40k_ade20k-512x512.py': 15,
    'configs/agent_pvt/fpn_agent-pvt-s_8xb2-40k_ade20k-512x512.py': 24,
    'configs/agent_pvt/fpn_agent-pvt-m_8xb2-40k_ade20k-512x512.py': 40,
    'configs/agent_pvt/fpn_agent-pvt-l_8xb2-40k_ade20k-512x512.py': 52,
    'configs/flatten_pvt/fpn_flatten-pvt-t_8xb2-40k_ade20k-512x512.py': 16,
}

# Rows whose published rounding no faithful model reproduces; the test asserts the count of the official
# modules instead (the backbone counts equal the official code's exactly, the heads are mmseg's). See the
# config READMEs.
PUBLISHED_ROUNDING_EXCEPTIONS_M = {
    # published 121M, as Swin-B's row; but Swin-B UperNet built the same way is 121.28M (published 121M) and
    # Agent-Swin-B has 0.327M more than Swin-B: 121.61M, which would round to 122M.
    'configs/agent_swin/upernet_agent-swin-b_8xb2-160k_ade20k-512x512.py': 121.607,
    # published 60M; Swin-T UperNet is 59.94M (published 60M) and FLatten-Swin-T adds 0.90M of positional
    # encodings: 60.85M. The FLatten-Swin-S row (82.16M, published 82M) counts the same way.
    'configs/flatten_swin/upernet_flatten-swin-t_8xb2-160k_ade20k-512x512.py': 60.846,
}


def build_model(cfg: Config):
    scope = cfg.default_scope
    with DefaultScope.overwrite_default_scope(scope):
        if scope == 'mmdet':
            from mmdet.registry import MODELS
        else:
            from mmseg.registry import MODELS
        return MODELS.build(cfg.model)


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    assert cfg.default_scope in ('mmdet', 'mmseg')
    # on the meta device: every module is constructed, no weights are drawn (the real initialisation of every
    # backbone is tested in test_backbone_harness.py, of whole models by the tool tests)
    with torch.device('meta'):
        model = build_model(cfg)
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    if path in PUBLISHED_ROUNDING_EXCEPTIONS_M:
        assert abs(params_m - PUBLISHED_ROUNDING_EXCEPTIONS_M[path]) < 0.001, f'{params_m:.3f} M'
        assert abs(params_m - PUBLISHED_PARAMS_M[path]) > 0.6  # documented: still an exception
    elif path in PUBLISHED_PARAMS_M:
        assert abs(params_m - PUBLISHED_PARAMS_M[path]) <= 0.6, f'{params_m:.2f} M'


def test_every_published_row_has_a_config():
    missing = [p for p in PUBLISHED_PARAMS_M if p not in CONFIGS]
    assert not missing, missing


EXTERNAL_CONFIG = '''
_base_ = '{base}'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='{backbone}', arch='t', embed_dims={dims}, num_heads={heads},
                  depths=(1, 1, 1, 1), init_cfg=None),
    {head})
'''

SCRIPT = '''
import sys, torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
cfg = Config.fromfile(sys.argv[1])
init_default_scope(cfg.default_scope)
assert 'mmagent' in sys.modules, 'custom_imports did not import mmagent'
if cfg.default_scope == 'mmdet':
    from mmdet.registry import MODELS
else:
    from mmseg.registry import MODELS
model = MODELS.build(cfg.model).eval()
with torch.no_grad():
    feats = model.extract_feat(torch.randn(1, 3, 128, 160))
print('OK', type(model).__name__, type(model.backbone).__name__, [tuple(f.shape) for f in feats])
'''


@pytest.mark.parametrize('base, backbone, dims, heads, head, expected', [
    ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 'AgentPVT', '(16, 32, 80, 128)', '(1, 2, 5, 8)',
     'neck=dict(in_channels=[16, 32, 80, 128], start_level=1)', 'RetinaNet AgentPVT'),
    ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', 'FLattenSwinTransformer', 16, '(1, 2, 4, 8)',
     "decode_head=dict(in_channels=[16, 32, 64, 128], norm_cfg=dict(type='BN')), "
     "auxiliary_head=dict(in_channels=64, norm_cfg=dict(type='BN'))", 'EncoderDecoder FLattenSwinTransformer'),
])
def test_external_config_uses_backbone_through_custom_imports(tmp_path, base, backbone, dims, heads, head,
                                                               expected):
    config = tmp_path / 'my_config.py'
    config.write_text(textwrap.dedent(EXTERNAL_CONFIG.format(base=base, backbone=backbone, dims=dims, heads=heads,
                                                                  head=head)))
    script = tmp_path / 'build.py'
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(config)], cwd=str(tmp_path), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'OK {expected}' in result.stdout
