"""Hooks mmagent adds to multi-process training."""
import hashlib

import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['RankConsistencyHook', 'weights_digest']


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
