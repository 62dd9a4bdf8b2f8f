"""mmdet's and mmseg's own inference APIs on checkpoints written by tools/train.py, one model of each family:
``init_detector`` / ``inference_detector`` / ``DetInferencer`` and ``init_model`` / ``inference_model`` /
``MMSegInferencer`` load them after ``import mmagent`` (the checkpoint allow-list included) and agree."""
import os.path as osp

import numpy as np
import pytest
import torch

from mmagent.utils.checkpoint import load_checkpoint_file

from .test_reliability import amp_run
from .test_tools import NO_VALIDATION, new_family_run, seg_options


def own_run(config, data):
    return (seg_options(data, 2) + [NO_VALIDATION], )


# family -> (config, task, the training run that writes its checkpoint): the two-iteration runs of the AMP and
# the tool tests (tools/train.py once per session through the train_demo fixture), and one of its own for
# FLatten-Swin.
FAMILIES = {
    'agent_swin': ('configs/demo/cascade-mask-rcnn_agent-swin-t_fpn_demo.py', 'det', new_family_run),
    'agent_pvt': ('configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py', 'det', amp_run),
    'agent_cswin': ('configs/demo/mask-rcnn_agent-cswin-t_fpn_demo.py', 'det', new_family_run),
    'flatten_swin': ('configs/demo/upernet_flatten-swin-t_demo.py', 'seg', own_run),
    'flatten_pvt': ('configs/demo/upernet_flatten-pvt-t_demo.py', 'seg', amp_run),
    'flatten_cswin': ('configs/demo/upernet_flatten-cswin-t_demo.py', 'seg', new_family_run),
    'flatten_pvtv2': ('configs/demo/mask-rcnn_flatten-pvtv2-b0_fpn_demo.py', 'det', amp_run),
    'lavit': ('configs/demo/upernet_lavit-t_demo.py', 'seg', amp_run),
}


def _same_weights(model, checkpoint):
    state = load_checkpoint_file(checkpoint)['state_dict']
    own = model.state_dict()
    assert set(state) == set(own)
    assert all(torch.equal(own[k].cpu(), v) for k, v in state.items())


def test_every_family_is_covered():
    from mmagent.models.backbones import BACKBONES
    assert set(FAMILIES) == set(BACKBONES)


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_inference_apis_load_trained_checkpoints(demo_data, train_demo, family):
    config, task, run = FAMILIES[family]
    work, _ = train_demo(config, *run(config, demo_data))
    checkpoint = osp.join(work, 'iter_2.pth')
    image = np.random.RandomState(0).randint(0, 255, (120, 160, 3), np.uint8)

    if task == 'det':
        from mmdet.apis import DetInferencer, inference_detector, init_detector
        model = init_detector(config, checkpoint, device='cpu')
        _same_weights(model, checkpoint)
        assert model.dataset_meta['classes'] == ('rectangle', 'ellipse', 'triangle', 'star')
        result = inference_detector(model, image)
        boxes, scores = result.pred_instances.bboxes, result.pred_instances.scores
        assert boxes.ndim == 2 and boxes.shape[1] == 4 and torch.isfinite(boxes).all() and torch.isfinite(scores).all()
        assert result.ori_shape == (120, 160)
        inferencer = DetInferencer(model=config, weights=checkpoint, device='cpu', show_progress=False)
        _same_weights(inferencer.model, checkpoint)
        same = inferencer(image, return_datasamples=True, no_save_vis=True)['predictions'][0].pred_instances
        assert torch.allclose(same.bboxes, boxes, atol=1e-4) and torch.allclose(same.scores, scores, atol=1e-5)
    else:
        from mmseg.apis import MMSegInferencer, inference_model, init_model
        model = init_model(config, checkpoint, device='cpu')
        _same_weights(model, checkpoint)
        result = inference_model(model, image)
        labels = result.pred_sem_seg.data
        assert labels.shape == (1, 120, 160) and int(labels.max()) < len(model.dataset_meta['classes'])
        inferencer = MMSegInferencer(model=config, weights=checkpoint, device='cpu')
        _same_weights(inferencer.model, checkpoint)
        same = inferencer(image, return_datasamples=True)
        assert torch.equal(same.pred_sem_seg.data, labels)
