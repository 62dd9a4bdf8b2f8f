"""Training that survives interruptions.

* :class:`MMAgentRunner` writes every checkpoint to a hidden temporary file in the same folder, flushes it
  to disk and renames it into place (``os.replace`` is atomic on POSIX): a kill during a save leaves the
  previous checkpoints and no truncated file under a checkpoint's name. mmengine streams straight to the
  final name.
* :func:`find_resumable_checkpoint` picks what ``--resume`` continues from: the file named in
  ``last_checkpoint`` if it loads, else the newest checkpoint in the work dir that loads (mmengine trusts
  ``last_checkpoint`` blindly, and a kill while it is rewritten can leave it empty).
  A save that fails (no space left, I/O error) removes its partial file, keeps the previous checkpoint and
  raises :class:`CheckpointSaveError` naming both.
* :func:`check_work_dir` refuses a work dir that cannot be created or written, before anything is built
  (mmengine would fail later, at the first log file or checkpoint, with a traceback).
* ``compile`` (``tools/train.py --compile``, ``tools/test.py --compile``): mmengine compiles the whole
  ``train_step`` (data preprocessing, losses, target sampling, the optimizer step), which breaks the graph at
  every data-dependent step of a detector head; mmagent compiles the model's ``backbone`` and ``neck`` in place
  (:meth:`torch.nn.Module.compile`, state-dict keys unchanged), the parts whose graphs are whole, and does so for
  testing and validation too (mmengine compiles for training only). ``compile=dict(parts=[...], **options)``
  picks the parts; the other keys go to :func:`torch.compile`.
* :func:`init_cpu_distributed` starts the gloo process group for torchrun launches on machines without
  CUDA (mmengine's launcher calls ``torch.cuda.set_device`` and fails there); :func:`close_distributed`
  destroys the process group when a run has finished (mmengine leaves it to the interpreter's exit).
"""
import glob
import os
import os.path as osp
import tempfile
from typing import Optional

import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..models.classification import classifier_backbone, is_official_classifier_state_dict, load_official_classifier
from ..utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from ..utils.inductor_fix import install_inductor_stride_order_fix
from .data_guard import name_pipeline_errors

__all__ = [
    'COMPILED_PARTS', 'MMAgentRunner', 'CheckpointSaveError', 'WorkDirError', 'check_work_dir', 'close_distributed',
    'find_resumable_checkpoint', 'init_cpu_distributed', 'last_saved_checkpoint', 'PARTIAL_PREFIX'
]


class CheckpointSaveError(RuntimeError):
    """A checkpoint could not be written; the previous one is untouched (the message names it)."""


class WorkDirError(RuntimeError):
    """The work dir cannot be created or written."""


def check_work_dir(work_dir: str) -> None:
    """Create ``work_dir`` if needed and write, flush and remove a probe file in it; raise
    :class:`WorkDirError` naming the folder and the reason if any step fails."""
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as error:
        raise WorkDirError(f"work dir '{work_dir}' cannot be created: {error.strerror or error}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=work_dir, prefix='.write-test-') as probe:
            probe.write(b'mmagent')
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise WorkDirError(f"work dir '{work_dir}' is not writable: {error.strerror or error}") from None

PARTIAL_PREFIX = '.partial-'
COMPILED_PARTS = ('backbone', 'neck')


@RUNNERS.register_module()
class MMAgentRunner(Runner):
    """mmengine's Runner with atomic checkpoint writes (local work dirs), data errors that name the sample
    (:mod:`mmagent.engine.data_guard`), and official classification checkpoints loaded as released into
    mmpretrain classifiers (``load_from`` / ``tools/test.py CONFIG official.pth``: converted, every key accounted
    for, strict; :mod:`mmagent.models.classification`)."""

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = False,
                        revise_keys=[(r'^module.', '')]):
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if classifier_backbone(model) is not None and osp.isfile(filename):
            checkpoint = load_checkpoint_file(filename, map_location)
            state_dict = extract_state_dict(checkpoint, f"checkpoint '{filename}'")
            if is_official_classifier_state_dict(state_dict):
                load_official_classifier(model, state_dict, f"checkpoint '{filename}'")
                self._has_loaded = True
                return checkpoint
        return super().load_checkpoint(filename, map_location=map_location, strict=strict, revise_keys=revise_keys)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        name_pipeline_errors(loader.dataset, 'test' if getattr(loader.dataset, 'test_mode', False) else 'train')
        return loader

    def _maybe_compile(self, target: str) -> None:
        """Compile the model's backbone and neck in place, once, when the config sets ``compile``."""
        compile_cfg = self.cfg.get('compile')
        if compile_cfg is None or compile_cfg is False or getattr(self, '_compiled_parts', None) is not None:
            return  # an empty dict, like True, means PyTorch's default options
        options = {} if compile_cfg is True else dict(compile_cfg)
        parts = tuple(options.pop('parts', COMPILED_PARTS))
        model = self.model.module if is_model_wrapper(self.model) else self.model
        compiled = [part for part in parts if isinstance(getattr(model, part, None), nn.Module)]
        if not compiled:
            raise ValueError(f'compile: {type(model).__name__} has none of the parts {list(parts)}')
        install_inductor_stride_order_fix()
        for part in compiled:
            getattr(model, part).compile(**options)
        self._compiled_parts = compiled
        self.logger.info(f'torch.compile({", ".join(f"{k}={v!r}" for k, v in options.items())}) of '
                         f'{" and ".join(compiled)}: the first iterations include the compilation')

    def val(self) -> dict:
        self._maybe_compile('val_step')
        return super().val()

    def test(self) -> dict:
        self._maybe_compile('test_step')
        return super().test()

    def save_checkpoint(self, out_dir: str, filename: str, *args, **kwargs) -> None:
        if not osp.isdir(out_dir):  # a remote backend (s3://, ...): keep mmengine's behaviour
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        partial = PARTIAL_PREFIX + filename
        partial_path, final_path = osp.join(out_dir, partial), osp.join(out_dir, filename)
        try:
            super().save_checkpoint(out_dir, partial, *args, **kwargs)  # rank 0 writes, others return
            if is_main_process():
                with open(partial_path, 'rb+') as f:
                    os.fsync(f.fileno())
                os.replace(partial_path, final_path)
        except OSError as error:  # no space left, I/O error, read-only file system, ...
            if osp.exists(partial_path):
                os.remove(partial_path)  # frees the space a full disk needs back
            previous = last_saved_checkpoint(self.work_dir)
            kept = f'the previous checkpoint {previous} is kept' if previous else 'no earlier checkpoint exists'
            message = (f"could not write checkpoint '{final_path}': {error.strerror or error}. Nothing was written "
                       f'under that name and {kept}; free space or choose another --work-dir, then --resume.')
            self.logger.error(message)
            raise CheckpointSaveError(message) from error


def last_saved_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``work_dir/last_checkpoint`` (mmengine's CheckpointHook rewrites it after each
    successful save; its ``last_ckpt`` info is set before the save), or None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip() or None


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


def close_distributed(logger=None) -> bool:
    """Destroy the default process group at the end of a run that finished; True if there was one.

    A process that exits with its process group alive tears the interpreter down while gloo's worker threads may
    still hold work objects with tensors in them, and now and then aborts at exit ("terminate called without an
    active exception", exit code -6, no traceback; pytorch/pytorch#190489). Not called after an error: destroying
    a group while another rank waits in a collective can hang."""
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    torch_dist.destroy_process_group()
    if logger is not None:
        logger.info('process group destroyed at the end of the run')
    return True
