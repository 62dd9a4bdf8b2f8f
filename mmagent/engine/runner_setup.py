"""Config preparation shared by ``tools/train.py`` and ``tools/test.py``: they work for mmdet, mmseg and
mmpretrain configs alike, on GPU machines and on CPU-only ones."""
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config, ConfigDict

from ..utils.config import convert_sync_bn, import_task, load_config, task_of

__all__ = ['load_config', 'task_of', 'convert_sync_bn', 'prepare_config', 'enable_amp', 'enable_test_amp',
           'enable_compile', 'COMPILE_OPTIONS']


def enable_amp(cfg: Config) -> str:
    """fp16 ``AmpOptimWrapper`` with dynamic loss scale on CUDA; bf16 CPU autocast otherwise."""
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
        return 'fp16 (AmpOptimWrapper, dynamic loss scale)'
    cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
    cfg.optim_wrapper.dtype = 'bfloat16'
    return 'bf16 autocast of backbone and neck (CPUAutocastOptimWrapper: no CUDA device)'


def enable_test_amp(cfg: Config) -> str:
    """``tools/test.py --amp``: mmengine's fp16 test loop on CUDA; on the CPU bf16 autocast of the backbone and
    neck with float32 heads (:class:`~mmagent.engine.CPUAutocastTestLoop`)."""
    test_cfg = dict(cfg.get('test_cfg') or dict(type='TestLoop'))
    if test_cfg.get('type', 'TestLoop') not in ('TestLoop', 'CPUAutocastTestLoop'):
        raise ValueError(f"--amp needs the config's test loop to be mmengine's TestLoop, got {test_cfg['type']!r}")
    if torch.cuda.is_available():
        cfg.test_cfg = ConfigDict({**test_cfg, 'type': 'TestLoop', 'fp16': True})
        return 'fp16 autocast (mmengine TestLoop, fp16=True)'
    test_cfg.pop('fp16', None)
    cfg.test_cfg = ConfigDict({**test_cfg, 'type': 'CPUAutocastTestLoop', 'dtype': 'bfloat16'})
    return 'bf16 autocast of backbone and neck, float32 heads (CPUAutocastTestLoop: no CUDA device)'


# What ``--compile`` sets: PyTorch's defaults, whose automatic dynamic shapes recompile once, at the second input
# size, with height and width symbolic (detectors see a new padded size almost every batch) and the batch size
# static.
COMPILE_OPTIONS: dict = dict()


def enable_compile(cfg: Config) -> dict:
    """Turn on ``compile`` for ``--compile``: :data:`COMPILE_OPTIONS` updated by a ``compile`` dict the config
    (or ``--cfg-options compile.backend=...``) already gives; returns the options."""
    given = cfg.get('compile')
    cfg.compile = {**COMPILE_OPTIONS, **(dict(given) if isinstance(given, dict) else {})}
    return cfg.compile


def prepare_config(cfg: Config, launcher: str, work_dir: Optional[str], config_path: str) -> List[str]:
    """Apply the settings every mmagent tool needs; returns log lines describing what changed."""
    notes = []
    import_task(task_of(cfg))
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    if launcher == 'none' or not torch.cuda.is_available():
        # torch's SyncBatchNorm needs CUDA and a process group; each process then normalises its own batch.
        converted = convert_sync_bn(cfg.model)
        if converted:
            why = 'single-process run' if launcher == 'none' else 'no CUDA for SyncBatchNorm'
            notes.append(f'{why}: converted {converted} SyncBN layer config(s) to BN')
    if launcher != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', ConfigDict())
        cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
        if cfg.env_cfg.dist_cfg.get('backend', 'nccl') == 'nccl':
            cfg.env_cfg.dist_cfg.backend = 'gloo'
            notes.append('distributed run without CUDA: using the gloo backend')
        if cfg.get('model_wrapper_cfg') is None:
            # mmengine passes device_ids=[LOCAL_RANK], which DDP rejects for a CPU module.
            cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                                         find_unused_parameters=cfg.get('find_unused_parameters', False))
    return notes
