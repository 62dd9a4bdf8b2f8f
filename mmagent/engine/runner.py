"""Training that survives interruptions.

* :class:`MMAgentRunner` writes every checkpoint to a hidden temporary file in the same folder, flushes it
  to disk and renames it into place (``os.replace`` is atomic on POSIX): a kill during a save leaves the
  previous checkpoints and no truncated file under a checkpoint's name. mmengine streams straight to the
  final name.
* :func:`find_resumable_checkpoint` picks what ``--resume`` continues from: the file named in
  ``last_checkpoint`` if it loads, else the newest checkpoint in the work dir that loads (mmengine trusts
  ``last_checkpoint`` blindly, and a kill while it is rewritten can leave it empty).
* :func:`init_cpu_distributed` starts the gloo process group for torchrun launches on machines without
  CUDA (mmengine's launcher calls ``torch.cuda.set_device`` and fails there).
"""
import glob
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..utils.checkpoint import CheckpointError, load_checkpoint_file

__all__ = ['MMAgentRunner', 'find_resumable_checkpoint', 'init_cpu_distributed', 'PARTIAL_PREFIX']

PARTIAL_PREFIX = '.partial-'


@RUNNERS.register_module()
class MMAgentRunner(Runner):
    """mmengine's Runner with atomic checkpoint writes (local work dirs)."""

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        if not osp.isdir(out_dir):  # a remote backend (s3://, ...): keep mmengine's behaviour
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        partial = PARTIAL_PREFIX + filename
        super().save_checkpoint(out_dir, partial, *args, **kwargs)  # rank 0 writes, others return
        if is_main_process():
            partial_path, final_path = osp.join(out_dir, partial), osp.join(out_dir, filename)
            with open(partial_path, 'rb+') as f:
                os.fsync(f.fileno())
            os.replace(partial_path, final_path)


def _loads(path: str) -> bool:
    try:
        load_checkpoint_file(path)
        return True
    except (CheckpointError, FileNotFoundError) as error:
        print_log(f'resume: skipping {path}: {error}', logger='current', level=30)
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should continue from, or None if the work dir has none that loads."""
    candidates = []
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named:
            candidates.append(named if osp.isabs(named) else osp.join(work_dir, osp.basename(named)))
    on_disk = [p for p in glob.glob(osp.join(work_dir, '*.pth')) if not osp.basename(p).startswith('.')]
    candidates += sorted(on_disk, key=osp.getmtime, reverse=True)
    seen = set()
    for path in candidates:
        if path in seen:
            continue
        seen.add(path)
        if _loads(path):
            return path
    return None


def init_cpu_distributed(launcher: str) -> bool:
    """Start the gloo process group for a torchrun launch without CUDA; True if it did."""
    if launcher != 'pytorch' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend='gloo')
    return True
