"""Test (and evaluate) a detector, segmentor or classifier: COCO box/mask mAP for mmdet configs, mIoU for mmseg
ones, top-1 / top-5 for mmpretrain (ImageNet) configs, which also take an official checkpoint as released.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE|DIR] [--show-dir DIR] [--amp] [--compile]
                                           [--cfg-options k=v ...] [--launcher ...]

``--out``: mmdet and mmpretrain configs dump predictions to a .pkl file; mmseg configs write label maps to a folder.
``--show-dir``: painted predictions, saved under the work dir's timestamped folder.
``--amp``: mixed precision: fp16 on CUDA; without CUDA, bf16 autocast of the backbone and neck (the CPU's bf16
matrix units where it has them) with float32 heads, whose mmcv CPU kernels (RoIAlign, NMS) take float32 only.
"""
import argparse
import os
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS

import mmagent  # noqa: F401  (registers mmagent modules and the checkpoint allow-list)
from mmagent.engine import (DataPipelineError, DatasetConfigError, MMAgentRunner, WorkDirError, check_datasets,
                            check_work_dir, close_distributed, enable_compile, enable_test_amp, error_summary,
                            init_cpu_distributed, load_config, prepare_config, task_of)
from mmagent.utils.checkpoint import CheckpointError, load_checkpoint_file


def parse_args():
    parser = argparse.ArgumentParser(description='Test a detector, segmentor or classifier with an mmagent backbone')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the evaluation metrics')
    parser.add_argument('--out', help='mmdet / mmpretrain: .pkl file of predictions; mmseg: folder of predicted label maps')
    parser.add_argument('--show', action='store_true', help='show prediction results in a window')
    parser.add_argument('--show-dir', help='directory (under the work dir) for painted predictions')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of --show (s)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (fp16 on CUDA; bf16 backbone and neck, float32 heads on CPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck (dynamic shapes; see MMAgentRunner)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, task, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit('error: --show/--show-dir need a visualization hook in default_hooks')
    if task == 'mmpretrain':  # mmpretrain's VisualizationHook: enable, interval (in samples), out_dir
        hook.update(enable=True, interval=1)
        if args.show:
            hook.update(show=True, wait_time=args.wait_time)
        if args.show_dir:  # under the work dir, as for detection / segmentation
            hook['out_dir'] = args.show_dir if os.path.isabs(args.show_dir) else os.path.join(cfg.work_dir,
                                                                                               args.show_dir)
        return
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        if task == 'mmdet':
            hook['test_out_dir'] = args.show_dir
        else:
            cfg.visualizer['save_dir'] = args.show_dir


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    notes = prepare_config(cfg, args.launcher, args.work_dir, args.config)
    check_work_dir(cfg.work_dir)
    task = task_of(cfg)
    check_datasets(cfg, ('test', ))
    load_checkpoint_file(args.checkpoint)  # a clear error for a missing, corrupt or unsafe file
    cfg.load_from = args.checkpoint
    if args.amp:
        notes.append(f'mixed precision: {enable_test_amp(cfg)}')
    if args.compile:
        notes.append(f'--compile: torch.compile options {enable_compile(cfg)}')
    if args.show or args.show_dir:
        enable_visualization(cfg, task, args)
    if args.out and task == 'mmseg':
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    if args.out and task in ('mmdet', 'mmpretrain') and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'error: --out for a detection or classification config must be a .pkl file, got '
                         f'{args.out!r}')

    if init_cpu_distributed(args.launcher):
        notes.append('torchrun without CUDA: gloo process group initialised by mmagent')
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else MMAgentRunner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    if args.out and task == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    if args.out and task == 'mmpretrain':
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()
    close_distributed(runner.logger)


if __name__ == '__main__':
    try:
        main()
    except (CheckpointError, DatasetConfigError, FileNotFoundError, WorkDirError, DataPipelineError) as error:
        sys.exit(f'error: {error_summary(error)}')
