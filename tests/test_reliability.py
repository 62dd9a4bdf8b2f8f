"""Reliability: atomic checkpoints and resume after SIGKILL, multi-process training (gloo on the CPU), mixed
precision for every family, and clear errors for bad datasets and images."""
import errno
import hashlib
import json
import math
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModel

from mmagent.engine import (CheckpointSaveError, DatasetConfigError, MMAgentRunner, NonFiniteLossError,
                            WorkDirError, check_datasets, check_work_dir, close_distributed, find_resumable_checkpoint,
                            weights_digest)
from mmagent.utils.checkpoint import load_checkpoint_file

from .conftest import REPO_ROOT
from .test_tools import (DET_CONFIG, NO_VALIDATION, SEG_CONFIG, det_options, run_tool, seg_options,
                         trained_iterations)


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ------------------------------------------------------------------------------------ atomic checkpoints
class _ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return dict(inputs=torch.full((2, ), float(index)))


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


def _toy_runner(work_dir):
    return MMAgentRunner(
        model=_ToyModel(), work_dir=work_dir,
        train_dataloader=dict(dataset=_ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), train_cfg=dict(by_epoch=False, max_iters=2))


def test_a_crash_during_save_leaves_no_truncated_checkpoint(tmp_path, monkeypatch):
    work = str(tmp_path)
    runner = _toy_runner(work)
    runner.save_checkpoint(work, 'iter_1.pth', save_optimizer=False, save_param_scheduler=False)
    assert load_checkpoint_file(osp.join(work, 'iter_1.pth'))['state_dict']['linear.weight'].shape == (1, 2)
    good = sha256(osp.join(work, 'iter_1.pth'))

    import mmengine.runner.runner as mmengine_runner

    def dies_half_way(checkpoint, filename, **kwargs):
        with open(filename, 'wb') as f:
            f.write(b'PK\x03\x04 half a checkpoint')
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        runner.save_checkpoint(work, 'iter_2.pth', save_optimizer=False, save_param_scheduler=False)
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # nothing under the checkpoint's name
    assert sha256(osp.join(work, 'iter_1.pth')) == good
    # even if last_checkpoint names the file that was being written, --resume takes the newest good one
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_2.pth'))
    assert find_resumable_checkpoint(work) == osp.join(work, 'iter_1.pth')


class _NaNAtThirdIteration(_ToyModel):
    """Two loss terms; the second turns NaN at the third training iteration."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode != 'loss':
            return self.linear(inputs)
        self.calls += 1
        out = self.linear(inputs)
        weight = float('nan') if self.calls == 3 else 0.1  # NaN loss and NaN gradients, as a real blow-up gives
        return dict(loss_fit=out.pow(2).mean(), loss_aux=out.abs().mean() * weight)


def _checkpointing_runner(work_dir, model, max_iters=4, hooks=None, max_keep_ckpts=-1):
    return MMAgentRunner(
        model=model, work_dir=work_dir,
        train_dataloader=dict(dataset=_ToyDataset(), sampler=dict(type='InfiniteSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False,
                                           max_keep_ckpts=max_keep_ckpts)),
        custom_hooks=hooks, default_scope='mmengine')


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    work = str(tmp_path)
    runner = _checkpointing_runner(work, _NaNAtThirdIteration(), hooks=[dict(type='FiniteLossHook')])
    with pytest.raises(NonFiniteLossError, match=r'non-finite loss at iteration 3: loss=nan, loss_aux=nan\. '
                                                 r'Training stopped .* the last good checkpoint is .*iter_2\.pth'):
        runner.train()
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']  # nothing from the NaN step
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')
    state = load_checkpoint_file(osp.join(work, 'iter_2.pth'))['state_dict']
    assert all(torch.isfinite(t).all() for t in state.values())
    # without the hook the same run writes NaN weights into iter_3 and iter_4
    plain = str(tmp_path / 'plain')
    _checkpointing_runner(plain, _NaNAtThirdIteration()).train()
    state = load_checkpoint_file(osp.join(plain, 'iter_4.pth'))['state_dict']
    assert not torch.isfinite(state['linear.weight']).all()


def test_a_failed_save_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch):
    import mmengine.runner.runner as mmengine_runner
    work = str(tmp_path)
    real_save, calls = mmengine_runner.save_checkpoint, []

    def disk_full_at_third_save(checkpoint, filename, **kwargs):
        calls.append(filename)
        if len(calls) < 3:
            return real_save(checkpoint, filename, **kwargs)
        with open(filename, 'wb') as f:
            f.write(b'PK\x03\x04 the first blocks')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', disk_full_at_third_save)
    # the demo configs keep 2 checkpoints: mmengine deletes iter_1 to make room, then writing iter_3 fails
    runner = _checkpointing_runner(work, _ToyModel(), max_keep_ckpts=2)
    with pytest.raises(CheckpointSaveError, match=r"could not write checkpoint '.*iter_3\.pth': No space left on "
                                                  r"device\. .* the previous checkpoint .*iter_2\.pth is kept"):
        runner.train()
    assert sorted(f for f in os.listdir(work) if '.pth' in f) == ['iter_2.pth']  # and no partial file
    load_checkpoint_file(osp.join(work, 'iter_2.pth'))
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')


def test_an_unusable_work_dir_is_refused_before_anything_is_built(tmp_path, demo_data):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.raises(WorkDirError, match=r"work dir '.*a_file/work' cannot be created: Not a directory"):
        check_work_dir(str(blocker / 'work'))
    # /proc/self exists but takes no new files, even for root (for whom permission bits do not apply)
    with pytest.raises(WorkDirError, match=r"work dir '/proc/self' is not writable"):
        check_work_dir('/proc/self')
    check_work_dir(str(tmp_path / 'new' / 'work'))
    assert os.listdir(tmp_path / 'new' / 'work') == []  # the probe file is gone
    for tool, extra in (('tools/train.py', []), ('tools/test.py', ['no_checkpoint_needed.pth'])):
        started = time.time()
        result = subprocess.run([sys.executable, tool, DET_CONFIG, *extra, '--work-dir', str(blocker / 'work'),
                                 '--cfg-options', *det_options(demo_data, 2)], cwd=REPO_ROOT, capture_output=True,
                                text=True)
        assert result.returncode == 1, result.stderr[-2000:]
        assert f"error: work dir '{blocker / 'work'}' cannot be created: Not a directory" in result.stderr
        assert 'Traceback' not in result.stderr and time.time() - started < 120


def test_resume_skips_empty_pointer_and_corrupt_files(tmp_path):
    work = str(tmp_path)
    torch.save(dict(state_dict=dict(w=torch.zeros(1))), osp.join(work, 'iter_2.pth'))
    time.sleep(0.01)
    with open(osp.join(work, 'iter_4.pth'), 'wb') as f:  # written by something non-atomic, then killed
        f.write(b'PK\x03\x04 truncated')
    open(osp.join(work, 'last_checkpoint'), 'w').close()  # emptied by a kill while it was rewritten
    assert find_resumable_checkpoint(work) == osp.join(work, 'iter_2.pth')
    assert find_resumable_checkpoint(str(tmp_path / 'nothing_here')) is None


@pytest.mark.slow
def test_sigkill_then_resume_continues_where_it_stopped(tmp_path, demo_data):
    work = str(tmp_path / 'work')
    options = det_options(demo_data, 8) + ['default_hooks.checkpoint.max_keep_ckpts=-1']
    cmd = [sys.executable, 'tools/train.py', DET_CONFIG, '--work-dir', work, '--cfg-options', *options]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while not osp.exists(osp.join(work, 'iter_2.pth')) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth') and not f.startswith('.'))
    assert saved and 'iter_8.pth' not in saved, saved
    hashes = {f: sha256(osp.join(work, f)) for f in saved}
    for name in saved:  # every checkpoint written before the kill is complete
        load_checkpoint_file(osp.join(work, name))
    last_saved = max(int(re.findall(r'\d+', f)[0]) for f in saved)

    log = run_tool('tools/train.py', DET_CONFIG, '--work-dir', work, '--resume', '--cfg-options', *options)
    assert f'resuming from {osp.join(work, f"iter_{last_saved}.pth")}' in log
    assert trained_iterations(log) == list(range(last_saved + 1, 9))  # continues, ends at the configured 8
    assert osp.exists(osp.join(work, 'iter_8.pth'))
    assert all(sha256(osp.join(work, f)) == h for f, h in hashes.items())


# ------------------------------------------------------------------------------------ several processes
@pytest.mark.slow
@pytest.mark.parametrize('config, options', [(DET_CONFIG, det_options), (SEG_CONFIG, seg_options)])
def test_two_process_gloo_training(tmp_path, demo_data, config, options):
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(29500 + os.getpid() % 1000), OMP_NUM_THREADS='1')
    result = subprocess.run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work, '--cfg-options',
                             *options(demo_data, 4)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'gloo process group initialised by mmagent' in log
    # RankConsistencyHook gathered a digest of the weights from both ranks: they agree
    assert 'weights identical across 2 ranks at the end of training' in log
    # the process group is destroyed before the interpreter exits (gloo threads alive at exit can abort it)
    assert 'process group destroyed at the end of the run' in log
    checkpoint = osp.join(work, 'iter_4.pth')
    assert osp.exists(checkpoint)
    # the checkpoint loads in a single-process test run
    run_tool('tools/test.py', config, checkpoint, '--work-dir', str(tmp_path / 'test'), '--cfg-options',
             *options(demo_data, 4))


def test_close_distributed_destroys_the_group_once(tmp_path):
    logger = MMLogger.get_instance('close_distributed_test', log_file=str(tmp_path / 'log.txt'))
    torch.distributed.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        assert close_distributed(logger) is True
        assert not torch.distributed.is_initialized()
        assert close_distributed(logger) is False  # nothing left to close: no error
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert 'process group destroyed at the end of the run' in (tmp_path / 'log.txt').read_text()


def _children(pid):
    """PIDs whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _rank_of(pid):
    with open(f'/proc/{pid}/environ', 'rb') as f:
        env = dict(item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item)
    return int(env.get(b'RANK', b'-1'))


@pytest.mark.slow
def test_a_dying_rank_stops_the_run_and_resume_continues_in_step(tmp_path, demo_data):
    """SIGKILL rank 1 of a 2-process gloo run after its first checkpoint: the run ends (no hang) within a
    bounded time with an error naming the rank and the signal, every checkpoint on disk loads, and --resume
    continues from the newest one to the end with identical weights on both ranks."""
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(30500 + os.getpid() % 1000), OMP_NUM_THREADS='1')
    options = det_options(demo_data, 8) + ['default_hooks.checkpoint.max_keep_ckpts=-1']
    cmd = ['bash', 'tools/dist_train.sh', DET_CONFIG, '2', '--work-dir', work, '--cfg-options', *options]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.time() + 600
        while not osp.exists(osp.join(work, 'iter_2.pth')) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        ranks = {_rank_of(pid): pid for pid in _children(proc.pid)}
        assert set(ranks) == {0, 1}, ranks
        os.kill(ranks[1], signal.SIGKILL)
        killed = time.time()
        output, _ = proc.communicate(timeout=180)
        stopped_after = time.time() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert stopped_after < 120, stopped_after
    # torchrun's summary names the failed rank and the signal
    assert re.search(r'rank\s*:\s*1 .*\n.*\n.*exitcode\s*:\s*-9', output) or 'Signal 9 (SIGKILL)' in output, \
        output[-3000:]
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth') and not f.startswith('.'))
    assert saved and 'iter_8.pth' not in saved
    for name in saved:
        load_checkpoint_file(osp.join(work, name))
    last_saved = max(int(re.findall(r'\d+', f)[0]) for f in saved)

    result = subprocess.run(cmd + ['--resume'], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert f'resuming from {osp.join(work, f"iter_{last_saved}.pth")}' in log
    assert sorted(set(trained_iterations(log))) == list(range(last_saved + 1, 9))
    assert 'weights identical across 2 ranks at the end of training' in log
    assert osp.exists(osp.join(work, 'iter_8.pth'))


def test_weights_digest_detects_any_difference():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    digest, with_buffers = weights_digest(model), weights_digest(model, include_buffers=True)
    assert digest == weights_digest(model)
    model(torch.randn(4, 3))  # updates the BatchNorm running statistics only
    assert weights_digest(model) == digest and weights_digest(model, include_buffers=True) != with_buffers
    with torch.no_grad():
        model[0].weight[0, 0] += 1e-6
    assert weights_digest(model) != digest


# ------------------------------------------------------------------------------------ mixed precision
def test_cpu_autocast_wrapper_runs_backbone_in_bf16_and_heads_in_fp32():
    from mmagent.engine import CPUAutocastOptimWrapper

    class Detector(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Sequential(torch.nn.Linear(4, 4))
            self.head = torch.nn.Linear(4, 1)

        def forward(self, x):
            features = self.backbone(x)
            self.seen = (self.backbone[0].weight.dtype, features.dtype)
            return self.head(features)

    model = Detector()
    wrapper = CPUAutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert model.seen == (torch.float32, torch.float32)  # the head got float32 features back ...
    assert out.dtype == torch.float32
    captured = []
    model.backbone[0].register_forward_hook(lambda m, i, o: captured.append(o.dtype))
    with wrapper.optim_context(model):
        model(torch.randn(2, 4))
    assert captured == [torch.bfloat16]  # ... computed in bf16
    assert 'forward' not in model.backbone.__dict__  # restored afterwards


def test_cpu_autocast_test_loop_runs_backbone_in_bf16_and_heads_in_fp32():
    from mmengine.config import Config

    from mmagent.engine import CPUAutocastTestLoop, enable_test_amp

    class Detector(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Sequential(torch.nn.Linear(4, 4))
            self.head = torch.nn.Linear(4, 1)
            self.seen = []

        def test_step(self, batch):
            features = self.backbone(batch)
            self.seen.append(features.dtype)
            out = self.head(features)
            self.seen.append(out.dtype)
            return [out]

    class Evaluator:
        processed = 0

        def process(self, data_samples, data_batch):
            self.processed += len(data_batch)

        def evaluate(self, size):
            return dict(seen=size)

    class Runner:
        model = Detector()

        def call_hook(self, *args, **kwargs):
            pass

    class Loader(list):
        dataset = list(range(4))

    loop = CPUAutocastTestLoop(Runner(), Loader([torch.randn(2, 4), torch.randn(2, 4)]), Evaluator())
    assert loop.run() == dict(seen=4)
    assert Runner.model.seen == [torch.float32, torch.float32] * 2  # heads get float32 features ...
    captured = []
    Runner.model.backbone[0].register_forward_hook(lambda m, i, o: captured.append(o.dtype))
    loop.run()
    assert captured == [torch.bfloat16] * 2  # ... which the backbone computed in bf16
    assert 'forward' not in Runner.model.backbone.__dict__  # restored afterwards

    cfg = Config(dict(test_cfg=dict(type='TestLoop')))
    assert 'bf16' in enable_test_amp(cfg) and cfg.test_cfg.type == 'CPUAutocastTestLoop'
    with pytest.raises(ValueError, match="test loop to be mmengine's TestLoop"):
        enable_test_amp(Config(dict(test_cfg=dict(type='MyLoop'))))


@pytest.mark.slow
def test_amp_test_tool(tmp_path, demo_data, train_demo):
    """tools/test.py --amp: the bf16 CPU path of a detector end to end (mmcv's RoIAlign and NMS get float32)."""
    config = 'configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py'
    work, _ = train_demo(config, *amp_run(config, demo_data))
    log = run_tool('tools/test.py', config, osp.join(work, 'iter_2.pth'), '--work-dir', str(tmp_path / 'test'),
                   '--amp', '--cfg-options', *det_options(demo_data, 2))
    assert 'mixed precision: bf16 autocast of backbone and neck, float32 heads' in log
    assert re.search(r'coco/bbox_mAP: [\d.]+', log), log[-2000:]


def finite_losses(log):
    values = [float(v) for v in re.findall(r'\bloss: ([-+\w.]+)', log)]
    return values and all(math.isfinite(v) for v in values)


def amp_run(config, data):
    """The --amp run of a demo config (two iterations, no validation; shared with test_inference_apis)."""
    options = det_options if osp.basename(config).startswith('mask-rcnn_') else seg_options
    return options(data, 2) + [NO_VALIDATION], '--amp'


@pytest.mark.slow
@pytest.mark.parametrize('config', [  # each family of the pyramid skeletons, a detector and a segmentor each
    'configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py', 'configs/demo/upernet_agent-pvt-t_demo.py',
    'configs/demo/upernet_flatten-pvt-t_demo.py', 'configs/demo/mask-rcnn_flatten-pvtv2-b0_fpn_demo.py',
    'configs/demo/upernet_lavit-t_demo.py'
])
def test_amp_training_for_every_family(demo_data, train_demo, config):
    """bf16 autocast training (--amp without CUDA); test_inference_apis loads four of these checkpoints."""
    _, log = train_demo(config, *amp_run(config, demo_data))
    assert 'mixed precision: bf16' in log
    assert trained_iterations(log) == [1, 2]
    assert finite_losses(log), log[-2000:]


# ------------------------------------------------------------------------------------ bad datasets
def _coco_cfg(root, ann):
    from mmengine.config import Config
    return Config(dict(train_dataloader=dict(dataset=dict(type='CocoDataset', data_root=root, ann_file=ann,
                                                          data_prefix=dict(img='train/')))))


def test_dataset_problems_are_named(tmp_path):
    root = str(tmp_path) + '/'
    os.makedirs(tmp_path / 'train')
    cv2.imwrite(str(tmp_path / 'train' / 'a.jpg'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetConfigError, match=r"data_root '/no/such/dir' does not exist"):
        check_datasets(_coco_cfg('/no/such/dir', 'ann.json'))
    with pytest.raises(DatasetConfigError, match=r"ann_file '.*missing.json' does not exist"):
        check_datasets(_coco_cfg(root, 'missing.json'))
    cases = {
        'empty.json': ('', 'is empty'),
        'broken.json': ('{"images": [', 'not valid JSON'),
        'list.json': ('[1, 2]', 'top level is a list'),
        'partial.json': (json.dumps(dict(images=[])), "no list 'annotations', 'categories'"),
        'noimages.json': (json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='a')])),
                          'lists no images'),
        'nocats.json': (json.dumps(dict(images=[dict(id=1)], annotations=[], categories=[])), 'no categories'),
        'badann.json': (json.dumps(dict(images=[dict(id=1, file_name='a.jpg')], annotations=[dict(id=1)],
                                        categories=[dict(id=1)])),
                        'lacks image_id or bbox'),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(DatasetConfigError, match=message):
            check_datasets(_coco_cfg(root, name))


def test_train_tool_reports_a_bad_dataset_without_a_traceback(tmp_path, demo_data):
    empty = tmp_path / 'empty.json'
    empty.write_text('')
    result = subprocess.run(
        [sys.executable, 'tools/train.py', DET_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
         *det_options(demo_data, 2), f'train_dataloader.dataset.ann_file={empty}'],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"error: annotation file '{empty}' (train_dataloader.dataset.ann_file) is empty" in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_grayscale_rgba_and_tiny_images_train(tmp_path, demo_data):
    """Grayscale and RGBA files are read as 3-channel images; images under 32 px are padded to the
    backbone's minimum by the data preprocessor (pad to a multiple of 32)."""
    root = tmp_path / 'odd'
    os.makedirs(root / 'train')
    images, annotations = [], []
    specs = [('gray.png', (48, 64), 'gray'), ('rgba.png', (40, 40), 'rgba'), ('tiny.jpg', (20, 24), 'color')]
    for index, (name, (h, w), kind) in enumerate(specs):
        image = np.random.RandomState(index).randint(0, 255, (h, w, 3), np.uint8)
        if kind == 'gray':
            image = image[..., 0]
        elif kind == 'rgba':
            image = np.concatenate([image, np.full((h, w, 1), 255, np.uint8)], -1)
        cv2.imwrite(str(root / 'train' / name), image)
        images.append(dict(id=index + 1, file_name=name, height=h, width=w))
        annotations.append(dict(id=index + 1, image_id=index + 1, category_id=1, iscrowd=0, area=64.0,
                                bbox=[2.0, 2.0, 10.0, 12.0], segmentation=[[2, 2, 12, 2, 12, 14, 2, 14]]))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(('rectangle', 'ellipse', 'triangle', 'star'))]
    (root / 'ann.json').write_text(json.dumps(dict(images=images, annotations=annotations, categories=categories)))
    config = tmp_path / 'odd_images.py'  # the demo detector without Resize: images stay at their size
    config.write_text(f"""_base_ = '{osp.join(REPO_ROOT, DET_CONFIG)}'
train_dataloader = dict(batch_size=3, dataset=dict(
    data_root='{root}/', ann_file='ann.json', data_prefix=dict(img='train/'), filter_cfg=dict(min_size=0),
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
              dict(type='PackDetInputs')]))
""")
    options = [o for o in det_options(demo_data, 2) if not o.startswith('train_dataloader.')]
    options += ['train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                NO_VALIDATION]
    log = run_tool('tools/train.py', str(config), '--work-dir', str(tmp_path / 'w'), '--cfg-options', *options)
    assert trained_iterations(log) == [1, 2]
    assert finite_losses(log), log[-2000:]



MEMORY_SCRIPT = r"""
import os, random, sys, torch
from mmagent.models import FLattenSwinTransformer, derived_caches
from mmagent.models.layers import window_attention

def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

torch.manual_seed(0)
model = FLattenSwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), attn_type='SSSS').train()
rng = random.Random(0)
rss = {}
for step in range(500):
    height, width = rng.randrange(64, 449), rng.randrange(64, 449)
    model(torch.randn(1, 3, height, width))  # train mode, gradients on: what a training step builds
    if step in (99, 499):
        rss[step] = rss_mb()
assert len(window_attention._SHIFT_MASKS) <= window_attention.SHIFT_MASK_CACHE_SIZE
assert all(len(cache) <= cache.max_entries for cache in derived_caches(model))
print('RSS', rss[99], rss[499])
"""


@pytest.mark.slow
def test_memory_stays_flat_over_many_training_sizes():
    """Multi-scale training meets a new padded size per image: 500 random sizes in train mode (gradients on)
    keep the shared shift-mask cache and every derived-tensor cache within their bounds and the process RSS flat
    (one mask per padded size and shifted block, unbounded, grew it steadily). oneDNN's own kernel cache (PyTorch's,
    bounded at 1024 kernels) is switched off in the child process so that RSS measures what mmagent holds."""
    env = dict(os.environ, ONEDNN_PRIMITIVE_CACHE_CAPACITY='0')
    result = subprocess.run([sys.executable, '-c', MEMORY_SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = (float(v) for v in result.stdout.split('RSS')[-1].split())
    # measured: 95 MB with one unbounded mask cache per block, 11-29 without
    assert after - before < 50, (before, after)
