"""Hooks mmagent adds to multi-process training."""
import hashlib

import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'RankConsistencyHook', 'weights_digest']


def weights_digest(model: torch.nn.Module, include_buffers: bool = False) -> str:
    """SHA-256 of the parameters (names, dtypes, shapes and bytes), and of the buffers if asked.

    Buffers are left out by default: without SyncBN, BatchNorm running statistics are each process's own.
    """
    digest = hashlib.sha256()
    tensors = model.state_dict() if include_buffers else dict(model.named_parameters())
    for name, tensor in tensors.items():
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name}:{data.dtype}:{tuple(tensor.shape)}'.encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b'')
    return digest.hexdigest()


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """At the end of training (and every ``interval`` iterations if > 0), check that every rank holds the same
    weights; raise if they diverged (DDP desynchronisation), so a broken run stops instead of saving one
    rank's view. ``tools/train.py`` adds it to every multi-process run.

    Args:
        interval: also check every ``interval`` iterations (-1: only at the end).
        include_buffers: compare buffers too (BatchNorm statistics agree only with SyncBN).
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = -1, include_buffers: bool = False) -> None:
        self.interval = interval
        self.include_buffers = include_buffers

    def _check(self, runner, when: str) -> None:
        if get_world_size() < 2:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        digests = all_gather_object(weights_digest(model, self.include_buffers))
        if len(set(digests)) != 1:
            raise RuntimeError(f'ranks hold different weights {when}: ' +
                               ', '.join(f'rank {i}: {d[:12]}' for i, d in enumerate(digests)))
        runner.logger.info(f'weights identical across {len(digests)} ranks {when} (sha256 {digests[0][:16]})')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval > 0 and self.every_n_train_iters(runner, self.interval):
            self._check(runner, f'at iteration {runner.iter + 1}')

    def after_train(self, runner) -> None:
        self._check(runner, 'at the end of training')


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the message names the iteration and the terms."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first non-finite loss, before anything is saved from that iteration.

    mmdet's ``CheckInvalidLossHook`` checks only the total, every 50 iterations, with an ``assert``. This one
    checks every loss term of every iteration and raises :class:`NonFiniteLossError` naming the iteration, the
    terms that are not finite and the last checkpoint written (which stays the newest one on disk: the hook
    runs before the checkpoint hook of the same iteration). On in the project's configs
    (``configs/_base_/runtime/mmagent.py``).

    Args:
        interval: check every ``interval`` iterations (1: every one).
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook (BELOW_NORMAL) and CheckpointHook (VERY_LOW)

    def __init__(self, interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    @staticmethod
    def non_finite_terms(outputs) -> dict:
        """The loss entries of ``outputs`` (a model's log variables) that are NaN or infinite."""
        bad = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            tensor = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else value).float()
            if not torch.isfinite(tensor).all():
                bad[name] = tensor.item() if tensor.numel() == 1 else tensor.tolist()
        return bad

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        bad = self.non_finite_terms(outputs)
        if not bad:
            return
        from .runner import last_saved_checkpoint
        last = last_saved_checkpoint(runner.work_dir)
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        raise NonFiniteLossError(
            f'non-finite loss at iteration {runner.iter + 1}: {terms}. Training stopped before saving anything '
            f'from this iteration; ' + (f'the last good checkpoint is {last}.' if last else
                                        'no checkpoint had been written yet.') +
            ' Lower the learning rate, check the data (tools/train.py validates the annotations) or try fp32.')
