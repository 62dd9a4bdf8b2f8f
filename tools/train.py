"""Train a detector (mmdet), segmentor (mmseg) or ImageNet classifier (mmpretrain) with the mmdet 3.x command line.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--compile] [--cfg-options k=v ...]
                                 [--launcher none|pytorch|slurm|mpi]

Beyond mmdet's tool, all logged: the work dir and the datasets are checked before anything is built;
checkpoints are written atomically (a failed save keeps the previous one); a non-finite loss stops training
with the iteration and the terms named (``FiniteLossHook`` of the project's configs); ``--resume`` without a
path continues from the newest checkpoint of the work dir that loads;
single-process runs turn SyncBN into BN; runs without CUDA use the gloo backend and, with --amp, bf16 CPU
autocast instead of fp16; multi-process runs check at the end that all ranks hold the same weights.
"""
import argparse
import os
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS

import mmagent  # noqa: F401  (registers mmagent modules and the checkpoint allow-list)
from mmagent.engine import (CheckpointSaveError, DataPipelineError, DatasetConfigError, MMAgentRunner,
                            NonFiniteLossError, WorkDirError, check_datasets, check_work_dir, close_distributed,
                            enable_amp, enable_compile, error_summary, find_resumable_checkpoint,
                            init_cpu_distributed, load_config, prepare_config)
from mmagent.utils.checkpoint import CheckpointError, load_checkpoint_file


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier with an mmagent backbone')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='mixed precision (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbone and neck (dynamic shapes; see MMAgentRunner)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or (no value) from the latest one in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value (e.g. train_cfg.max_iters=100)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    notes = prepare_config(cfg, args.launcher, args.work_dir, args.config)
    check_work_dir(cfg.work_dir)
    check_datasets(cfg, ('train', 'val') if cfg.get('val_cfg') else ('train', ))
    if args.amp:
        notes.append(f'mixed precision: {enable_amp(cfg)}')
    if args.compile:
        notes.append(f'--compile: torch.compile options {enable_compile(cfg)}')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            sys.exit('error: --auto-scale-lr needs auto_scale_lr = dict(base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        found = find_resumable_checkpoint(cfg.work_dir)
        cfg.resume, cfg.load_from = found is not None, found
        notes.append(f'resuming from {found}' if found else
                     f'--resume: no checkpoint that loads in {cfg.work_dir}; training from the start')
    elif args.resume is not None:
        load_checkpoint_file(args.resume)  # a clear error for a missing, corrupt or unsafe file
        cfg.resume, cfg.load_from = True, args.resume
    if args.launcher != 'none':
        hooks = cfg.get('custom_hooks') or []
        if not any(h.get('type') == 'RankConsistencyHook' for h in hooks):
            cfg.custom_hooks = list(hooks) + [dict(type='RankConsistencyHook')]
    if init_cpu_distributed(args.launcher):
        notes.append('torchrun without CUDA: gloo process group initialised by mmagent')

    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else MMAgentRunner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    runner.train()
    close_distributed(runner.logger)


if __name__ == '__main__':
    try:
        main()
    except (CheckpointError, CheckpointSaveError, DatasetConfigError, FileNotFoundError, NonFiniteLossError,
            WorkDirError, DataPipelineError) as error:
        sys.exit(f'error: {error_summary(error)}')
