"""Train a detector (mmdet) or segmentor (mmseg) with the mmdet 3.x command line.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
                                 [--launcher none|pytorch|slurm|mpi]

Differences from mmdet's tool, all logged: single-process runs turn SyncBN into BN; runs without CUDA use
the gloo backend and, with --amp, bf16 CPU autocast instead of fp16.
"""
import argparse
import os
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

import mmagent  # noqa: F401  (registers mmagent modules and the checkpoint allow-list)
from mmagent.engine import enable_amp, load_config, prepare_config
from mmagent.utils.checkpoint import load_checkpoint_file


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector or segmentor with an mmagent backbone')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='mixed precision (fp16 on CUDA, bf16 on CPU)')
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
    if args.amp:
        notes.append(f'mixed precision: {enable_amp(cfg)}')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            sys.exit('--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        load_checkpoint_file(args.resume)  # a clear error for a missing, corrupt or unsafe file
        cfg.resume, cfg.load_from = True, args.resume

    runner = Runner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    runner.train()


if __name__ == '__main__':
    main()
