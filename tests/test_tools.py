"""tools/train.py and tools/test.py end to end, for an mmdet and an mmseg config: a few iterations, a test
from the saved checkpoint, and a resume from it, all loading with torch.load(weights_only=True)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

DET_CONFIG = 'configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py'
SEG_CONFIG = 'configs/demo/upernet_agent-pvt-t_demo.py'


def run_tool(*args, check=True):
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if check:
        assert result.returncode == 0, output[-4000:]
    return output


# No validation in a run: mmengine's IterBasedTrainLoop validates at max_iters whatever val_interval says.
NO_VALIDATION = 'train_cfg.val_begin=100'


def det_options(data, iters):
    coco = f'{data}/coco/'
    return [
        f'train_dataloader.dataset.data_root={coco}', f'val_dataloader.dataset.data_root={coco}',
        f'test_dataloader.dataset.data_root={coco}', f'val_evaluator.ann_file={coco}annotations/instances_val.json',
        f'test_evaluator.ann_file={coco}annotations/instances_val.json', f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}', 'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=2',
        'default_hooks.logger.interval=1', 'param_scheduler.0.end=2'
    ] + [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader')
         for key in ('num_workers=0', 'persistent_workers=False')]


def seg_options(data, iters):
    ade = f'{data}/ade/'
    return [
        f'train_dataloader.dataset.data_root={ade}', f'val_dataloader.dataset.data_root={ade}',
        f'test_dataloader.dataset.data_root={ade}', f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        'train_dataloader.batch_size=2', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        'param_scheduler.0.end=2', 'param_scheduler.1.begin=2', f'param_scheduler.1.end={max(iters, 3)}'
    ] + [f'{loader}.{key}' for loader in ('train_dataloader', 'val_dataloader')
         for key in ('num_workers=0', 'persistent_workers=False')]


def all_scores(score_key):
    """det_options plus a zero score threshold: a detector two iterations from scratch scores every box below the
    default 0.05, and COCO evaluation of no boxes prints no metric."""
    return lambda data, iters: det_options(data, iters) + [f'model.test_cfg.{score_key}=0.0']


def trained_iterations(log):
    return [int(m) for m in re.findall(r'Iter\(train\) \[\s*(\d+)/\d+\]', log)]


@pytest.mark.slow
@pytest.mark.parametrize('config, options, metric, compiled_leg', [
    (DET_CONFIG, det_options, 'coco/bbox_mAP', 'resume'),
    (SEG_CONFIG, seg_options, 'mIoU', 'test'),
])
def test_train_test_resume(tmp_path, demo_data, config, options, metric, compiled_leg):
    """Train, test, resume; one leg with --compile: the backbone (and neck) captured by Dynamo with its default
    (automatic dynamic) shapes, run by the 'eager' backend here: Inductor needs minutes per graph on two cores
    (its run of this detector is in docs/benchmarks.md; test_deploy.py compiles its failure case)."""
    def compiled(leg):
        return ['--compile', '--cfg-options', 'compile.backend=eager'] if leg == compiled_leg else []

    compile_note = re.compile(r"torch\.compile\(backend='eager'\) of backbone( and neck)?:")
    work = str(tmp_path / 'work')
    log = run_tool('tools/train.py', config, '--work-dir', work, '--cfg-options', *options(demo_data, 4))
    assert trained_iterations(log) == [1, 2, 3, 4]
    assert osp.exists(osp.join(work, 'iter_2.pth')) and osp.exists(osp.join(work, 'iter_4.pth'))
    if config == SEG_CONFIG:
        assert 'converted 2 SyncBN layer config(s) to BN' in log

    # test from the saved checkpoint (weights_only loading of an mmengine checkpoint)
    log = run_tool('tools/test.py', config, osp.join(work, 'iter_4.pth'), '--work-dir', str(tmp_path / 'test'),
                   '--cfg-options', *options(demo_data, 4), *compiled('test'))
    assert re.search(re.escape(metric) + r'\s*[:|]', log) or metric in log
    assert bool(compile_note.search(log)) == (compiled_leg == 'test')

    # resume from iteration 2 and continue to 6: iterations 3..6 run, nothing before (no validation: the test leg
    # above validated this checkpoint format, and a compiled validation would only add a no-grad recompilation)
    log = run_tool('tools/train.py', config, '--work-dir', work, '--resume', osp.join(work, 'iter_2.pth'),
                   '--cfg-options', *options(demo_data, 6), NO_VALIDATION, *compiled('resume'))
    assert 'resumed epoch: 0, iter: 2' in log
    assert bool(compile_note.search(log)) == (compiled_leg == 'resume')
    assert trained_iterations(log) == [3, 4, 5, 6]
    assert osp.exists(osp.join(work, 'iter_6.pth'))


NEW_FAMILY_CASES = [
    ('configs/demo/mask-rcnn_flatten-pvtv2-b0_fpn_demo.py', det_options, 'coco/bbox_mAP'),
    ('configs/demo/mask-rcnn_agent-cswin-t_fpn_demo.py', det_options, 'coco/bbox_mAP'),
    ('configs/demo/upernet_flatten-cswin-t_demo.py', seg_options, 'mIoU'),
    # the downstream kinds beyond Mask R-CNN and UperNet
    ('configs/demo/cascade-mask-rcnn_agent-swin-t_fpn_demo.py', all_scores('rcnn.score_thr'), 'coco/segm_mAP'),
    ('configs/demo/retinanet_agent-pvt-t_fpn_demo.py', all_scores('score_thr'), 'coco/bbox_mAP'),
    ('configs/demo/fpn_agent-pvt-t_demo.py', seg_options, 'mIoU'),
]


def new_family_run(config, data):
    """The training run of a NEW_FAMILY_CASES config (two iterations; shared with test_inference_apis)."""
    options = {case[0]: case[1] for case in NEW_FAMILY_CASES}[config]
    return (options(data, 2), )


@pytest.mark.slow
@pytest.mark.parametrize('config, options, metric', NEW_FAMILY_CASES)
def test_new_family_trains_and_tests(tmp_path, demo_data, train_demo, config, options, metric):
    """A family added on the redesigned skeletons, and each further detector / segmentor kind, trains and
    evaluates through the tools like the others."""
    work, log = train_demo(config, *new_family_run(config, demo_data))
    assert trained_iterations(log) == [1, 2]
    log = run_tool('tools/test.py', config, osp.join(work, 'iter_2.pth'), '--work-dir', str(tmp_path / 'test'),
                   '--cfg-options', *options(demo_data, 2))
    assert re.search(re.escape(metric) + r'\s*[:|]', log) or metric in log


def load_demo_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location('mmagent_demo_tool', osp.join(REPO_ROOT, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('units, requested, amp, says', [
    ('none', 'auto', False, 'fp32 (auto: the CPU has no bf16 matrix units'),
    ('AVX512-BF16', 'auto', True, 'bf16 autocast (auto: CPU bf16 units: AVX512-BF16)'),
    ('AMX', 'auto', True, 'bf16 autocast (auto: CPU bf16 units: AMX)'),
    ('AMX', 'fp32', False, 'fp32 (requested'),
    ('none', 'amp', True, 'bf16 autocast (requested'),
])
def test_demo_precision(monkeypatch, tmp_path, units, requested, amp, says):
    """The demo runs bf16 autocast where the CPU has bf16 units (fp32 elsewhere), passes --amp to both the training
    and the test run, and says which precision ran."""
    import mmagent.analysis.benchmark as benchmark
    import torch
    demo = load_demo_tool()
    monkeypatch.setattr(benchmark, 'cpu_bf16_support', lambda: units)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    use_amp, precision = demo.choose_precision(requested)
    assert use_amp is amp and precision.startswith(says), precision

    commands = []

    work = tmp_path / 'work'

    def record(cmd):
        commands.append(cmd)
        if cmd[1] == 'tools/train.py':
            work.mkdir()
            (work / 'last_checkpoint').write_text(str(work / 'iter_1.pth'))
        else:
            raise KeyboardInterrupt  # stop before the test run's outputs are needed

    monkeypatch.setattr(demo, 'run', record)
    data = tmp_path / 'data'
    (data / 'coco' / 'annotations').mkdir(parents=True)
    (data / 'coco' / 'annotations' / 'instances_val.json').write_text('{}')
    monkeypatch.setattr(sys, 'argv', ['demo.py', '--work-dir', str(work), '--data-root', str(data),
                                      '--precision', requested])
    with pytest.raises(KeyboardInterrupt):
        demo.main()
    assert [c[1] for c in commands] == ['tools/train.py', 'tools/test.py']
    assert [('--amp' in c) for c in commands] == [amp, amp]
