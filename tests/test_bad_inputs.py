"""Malformed inputs through the train and test pipelines of the demo detector: each one works, or stops with an
error naming the file and the problem (before anything is built where a pre-flight check can see it, else from
the transform that fails); none hangs, none touches an existing checkpoint."""
import copy
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmagent.engine import DataPipelineError, DatasetConfigError, check_datasets, name_pipeline_errors

from .conftest import REPO_ROOT
from .test_reliability import sha256
from .test_tools import DET_CONFIG, NO_VALIDATION, det_options, run_tool, trained_iterations

CATEGORIES = [dict(id=i + 1, name=n) for i, n in enumerate(('rectangle', 'ellipse', 'triangle', 'star'))]
_rng = np.random.RandomState(0)


def _color(h, w):
    return _rng.randint(0, 255, (h, w, 3), np.uint8)


def _png(image):
    return lambda path: cv2.imwrite(path, image)


def _truncated_jpeg(path):
    ok, data = cv2.imencode('.jpg', _color(64, 64))
    with open(path, 'wb') as f:
        f.write(data.tobytes()[:len(data) // 2])


def _float_tiff_with_nan_and_inf(path):
    image = _rng.rand(64, 64, 3).astype(np.float32)
    image[0, 0], image[1, 1], image[2, 2] = np.nan, np.inf, -np.inf
    cv2.imwrite(path, image)


def _bytes(content):
    def write(path):
        with open(path, 'wb') as f:
            f.write(content)
    return write


BOX = [4.0, 4.0, 30.0, 30.0]
# name: (file, height, width, boxes, writer[, segmentations]) -- inputs the pipelines must take
WORKS = {
    'reference image': ('good.png', 64, 64, [BOX], _png(_color(64, 64))),
    '1-channel image': ('gray.png', 64, 64, [BOX], _png(_color(64, 64)[..., 0])),
    '4-channel image': ('rgba.png', 64, 64, [BOX], _png(np.dstack([_color(64, 64), np.full((64, 64), 255, np.uint8)]))),
    '16-bit image': ('deep.png', 64, 64, [BOX], _png((_rng.rand(64, 64, 3) * 65535).astype(np.uint16))),
    'NaN and Inf pixels (float TIFF)': ('nan.tiff', 64, 64, [BOX], _float_tiff_with_nan_and_inf),
    '1x1 image': ('one.png', 1, 1, [[0.0, 0.0, 1.0, 1.0]], _png(_color(1, 1))),
    '16x4096 image': ('wide.png', 16, 4096, [[100.0, 2.0, 300.0, 12.0]], _png(_color(16, 4096))),
    'truncated JPEG': ('truncated.jpg', 64, 64, [BOX], _truncated_jpeg),
    'degenerate boxes (zero width, zero height)': ('degenerate.png', 64, 64, [[4.0, 4.0, 0.0, 30.0],
                                                                             [4.0, 4.0, 30.0, 0.0]],
                                                   _png(_color(64, 64))),
    'negative box size': ('negative.png', 64, 64, [[20.0, 20.0, -10.0, -10.0], BOX], _png(_color(64, 64))),
    'box outside the image': ('outside.png', 64, 64, [[100.0, 100.0, 10.0, 10.0], BOX], _png(_color(64, 64))),
    'box partly outside the image': ('partly.png', 64, 64, [[50.0, 50.0, 40.0, 40.0]], _png(_color(64, 64))),
    'image without annotations': ('bare.png', 64, 64, [], _png(_color(64, 64))),
    '0x0 size in the annotations': ('zero.png', 0, 0, [BOX], _png(_color(64, 64))),
}
TALL = ('tall.png', 4096, 16, [[2.0, 100.0, 12.0, 300.0]], _png(_color(4096, 16)))  # 4096x16


def _write_dataset(root, cases, extra_annotations=(), edit=None):
    """Images under root/img, COCO file root/<name>.json; returns the file name."""
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    images, annotations = [], []
    for file, height, width, boxes, writer, *segs in cases:
        image_id = len(images) + 1
        writer(osp.join(root, 'img', file))
        images.append(dict(id=image_id, file_name=file, height=height, width=width))
        for k, (x, y, w, h) in enumerate(boxes):
            polygon = segs[0][k] if segs else [[x, y, x + w, y, x + w, y + h, x, y + h]]
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, category_id=1 + k % 4, iscrowd=0,
                                    area=abs(w * h), bbox=[x, y, w, h], segmentation=polygon))
    annotations += [dict(a, id=len(annotations) + 1 + i) for i, a in enumerate(extra_annotations)]
    content = dict(images=images, annotations=annotations, categories=copy.deepcopy(CATEGORIES))
    if edit is not None:
        edit(content)
    name = f'ann_{len(os.listdir(root))}.json'
    with open(osp.join(root, name), 'w') as f:
        json.dump(content, f)
    return name


def _dataset_cfg(root, ann_file, phase='train'):
    cfg = Config.fromfile(osp.join(REPO_ROOT, DET_CONFIG))
    dataset = copy.deepcopy((cfg.train_dataloader if phase == 'train' else cfg.test_dataloader).dataset)
    dataset.update(data_root=root + '/', ann_file=ann_file, data_prefix=dict(img='img/'))
    return cfg, dataset


def _build(root, ann_file, phase, flip=None):
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    _, dataset = _dataset_cfg(root, ann_file, phase)
    if flip is not None:
        for step in dataset.pipeline:
            if step['type'] == 'RandomFlip':
                step['prob'] = flip
    built = DATASETS.build(dataset)
    name_pipeline_errors(built, phase)
    return built


def test_malformed_inputs_work_or_are_named(tmp_path):
    root = str(tmp_path)
    stray = dict(image_id=9999, category_id=1, iscrowd=0, area=100.0, bbox=[1.0, 1.0, 10.0, 10.0],
                 segmentation=[[1, 1, 11, 1, 11, 11]])  # an annotation of an image that is not listed
    works = _write_dataset(root, list(WORKS.values()) + [TALL], extra_annotations=[stray])
    cfg, train_cfg = _dataset_cfg(root, works)
    check_datasets(Config(dict(train_dataloader=dict(dataset=train_cfg))))  # the pre-flight check accepts them

    # every image through the test pipeline, and through the train pipeline with and without the flip
    test_set = _build(root, works, 'test')
    assert len(test_set) == len(WORKS) + 1
    for index in range(len(test_set)):
        sample = test_set[index]
        assert torch.isfinite(sample['inputs'].float()).all() and min(sample['inputs'].shape[1:]) >= 1
    seen = set()
    for flip in (0.0, 1.0):
        train_set = _build(root, works, 'train', flip=flip)
        for index in range(len(train_set)):
            info = train_set.get_data_info(index)
            name = osp.basename(info['img_path'])
            seen.add(name)
            if name == 'tall.png' and flip:
                # resized to 192x1, a horizontal flip gives a width-1 view with a negative stride that mmdet's
                # PackDetInputs cannot turn into a tensor: named, with the file, its size and the step
                with pytest.raises(DataPipelineError, match=r"train data: '.*tall\.png' \(4096x16 in the "
                                                            r'annotations\) failed in PackDetInputs: ValueError: .*'
                                                            r'negative'):
                    train_set.prepare_data(index)
                continue
            sample = train_set.prepare_data(index)
            boxes = sample['data_samples'].gt_instances.bboxes
            assert torch.isfinite(sample['inputs'].float()).all()
            assert (boxes.tensor[:, 2:] >= boxes.tensor[:, :2]).all(), name
    # mmdet's train filter drops the images without a usable box: 1x1 (< min_size), bare, 0x0
    assert seen == {f for f, *_ in WORKS.values()} - {'one.png', 'bare.png', 'zero.png'} | {'tall.png'}

    # undecodable content: named by the transform that reads it
    broken = _write_dataset(root, [WORKS['reference image'], ('garbage.jpg', 64, 64, [BOX], _bytes(b'GIF89a?' * 20))])
    test_set = _build(root, broken, 'test')
    with pytest.raises(DataPipelineError, match=r"test data: '.*garbage\.jpg' \(64x64 in the annotations\) failed in "
                                                r'LoadImageFromFile: AssertionError: failed to load image'):
        test_set[1]

    # what a pre-flight check sees: refused before anything is built, naming the file and the entry
    good = WORKS['reference image']
    refused = {
        'missing image file': (dict(cases=[good, ('absent.png', 64, 64, [BOX], lambda p: None)]),
                               r"image file '.*absent\.png' \(image id 2\) does not exist"),
        'empty image file': (dict(cases=[good, ('empty.jpg', 64, 64, [BOX], _bytes(b''))]),
                             r"image file '.*empty\.jpg' \(image id 2\) is empty \(0 bytes\)"),
        'unknown category id': (dict(cases=[good], extra_annotations=[dict(stray, image_id=1, category_id=77)]),
                                r'annotation #1 \(id 2, image id 1\) has category_id 77, which is not among'),
        'duplicate image ids': (dict(cases=[good, good], edit=lambda c: c['images'][1].update(id=1)),
                                r"image id 1 is used twice \(second time by 'good\.png'\)"),
        'bbox of three numbers': (dict(cases=[good], edit=lambda c: c['annotations'][0].update(bbox=[1, 2, 3])),
                                  r'annotation #0 \(id 1, image id 1\) has bbox \[1, 2, 3\]; expected'),
        'NaN in a bbox': (dict(cases=[good], edit=lambda c: c['annotations'][0].update(bbox=[1, 2, float('nan'), 4])),
                          r'has bbox \[1, 2, nan, 4\]; expected \[x, y, width, height\], four finite numbers'),
        'string bbox': (dict(cases=[good], edit=lambda c: c['annotations'][0].update(bbox='1 2 3 4')),
                        r'has bbox 1 2 3 4; expected'),
        'empty mask while masks are loaded': (dict(cases=[good], edit=lambda c: c['annotations'][0].update(
            segmentation=[])), r'annotation #0 \(id 1, image id 1\) has no segmentation polygon, but the pipeline '
                               r'loads masks'),
        'image entry without file_name': (dict(cases=[good], edit=lambda c: c['images'][0].pop('file_name')),
                                          r'image #0 lacks id or file_name'),
        'valid JSON of the wrong shape': (dict(cases=[good], edit=lambda c: c.update(images={'1': 'good.png'})),
                                          r"not in COCO format: no list 'images'"),
        'category without id': (dict(cases=[good], edit=lambda c: c['categories'][0].pop('id')),
                                r'category #0 has no id'),
    }
    for case, (spec, message) in refused.items():
        ann_file = _write_dataset(root, **spec)
        _, dataset = _dataset_cfg(root, ann_file)
        with pytest.raises(DatasetConfigError, match=rf"annotation file '.*{ann_file}' \(train_dataloader\.dataset"
                                                     rf'\.ann_file\).*{message}'):
            check_datasets(Config(dict(train_dataloader=dict(dataset=dataset))))
    assert len(WORKS) + 2 + 1 + len(refused) >= 20  # stray annotation + tall image, undecodable file


@pytest.mark.slow
def test_malformed_inputs_through_the_tools(tmp_path, demo_data):
    """End to end: the demo detector trains and tests on the inputs it takes; an undecodable image met during
    training stops the tool with one line naming it, and the checkpoint resumed from is untouched."""
    root = str(tmp_path / 'data')
    works = _write_dataset(root, list(WORKS.values()))
    tall = _write_dataset(root, list(WORKS.values()) + [TALL])
    options = det_options(demo_data, 2) + [
        f'train_dataloader.dataset.data_root={root}/', f'train_dataloader.dataset.ann_file={works}',
        'train_dataloader.dataset.data_prefix.img=img/', 'train_dataloader.batch_size=4',
        'train_dataloader.batch_sampler=None', NO_VALIDATION]
    test_options = [f'{loader}.dataset.{key}' for loader in ('val_dataloader', 'test_dataloader') for key in
                    (f'data_root={root}/', f'ann_file={tall}', 'data_prefix.img=img/')]
    test_options += [f'{name}_evaluator.ann_file={root}/{tall}' for name in ('val', 'test')]
    work = str(tmp_path / 'work')
    log = run_tool('tools/train.py', DET_CONFIG, '--work-dir', work, '--cfg-options', *options)
    assert trained_iterations(log) == [1, 2]
    checkpoint = osp.join(work, 'iter_2.pth')
    log = run_tool('tools/test.py', DET_CONFIG, checkpoint, '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                   *options, *test_options)
    # all 15 images (batch 4) went through the model and the evaluator; 4 iterations of training predict no box
    # above the score threshold yet, which the COCO metric reports as an empty result
    assert 'Iter(test) [4/4]' in log and 'Evaluating bbox' in log

    good = sha256(checkpoint)
    broken = _write_dataset(root, [WORKS['reference image'], ('garbage.jpg', 64, 64, [BOX], _bytes(b'\xff\xd8' * 40))])
    result = subprocess.run(
        [sys.executable, 'tools/train.py', DET_CONFIG, '--work-dir', work, '--resume', '--cfg-options',
         *[o for o in options if 'max_iters' not in o], 'train_cfg.max_iters=4',
         f'train_dataloader.dataset.ann_file={broken}', 'train_dataloader.batch_size=2'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(r"error: train data: '.*garbage\.jpg' \(64x64 in the annotations\) failed in LoadImageFromFile: "
                    r'AssertionError: failed to load image', last), result.stderr[-3000:]
    assert sha256(checkpoint) == good
    assert sorted(f for f in os.listdir(work) if '.pth' in f) == ['iter_2.pth']
