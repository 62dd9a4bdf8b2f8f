"""Checkpoint reading without executing pickled code.

Every checkpoint is read with ``torch.load(..., weights_only=True)``. Two kinds of files need more than
tensors and plain containers:

* checkpoints written by mmengine (``tools/train.py``) carry ``HistoryBuffer`` objects and numpy arrays in
  their ``message_hub``: :func:`register_safe_globals` allow-lists exactly those types;
* the official ImageNet checkpoints of Agent Attention and FLatten carry their training config as a pickled
  yacs ``CfgNode``. It is mapped to :class:`InertConfigNode`, a plain ``dict`` subclass, so its contents
  are read as data and no yacs code runs.

Anything else in a pickle (e.g. a ``__reduce__`` that calls ``os.system``) is refused by torch's
weights-only unpickler, and :func:`load_checkpoint_file` reports it as a :class:`CheckpointError`.
"""
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Dict, List

import numpy as np
import torch

__all__ = [
    'CheckpointError', 'InertConfigNode', 'safe_globals', 'register_safe_globals', 'load_checkpoint_file',
    'extract_state_dict'
]


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, unsafe or does not fit the model; the message says which."""


class InertConfigNode:
    """Stand-in for the pickled ``yacs.config.CfgNode`` of the official checkpoints.

    The unpickler builds it as a plain ``OrderedDict`` (the only mapping types torch's weights-only unpickler
    fills), so the config is read as data: its keys become items and yacs' internal flags instance
    attributes. Nothing from yacs is imported or run.
    """

    def __new__(cls, *args, **kwargs) -> 'OrderedDict':
        return OrderedDict()


def history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stand-in for ``getattr`` while unpickling: mmengine's ``HistoryBuffer`` stores its statistics methods,
    which pickle as ``getattr(HistoryBuffer, 'mean')``. Only those are resolved; anything else is refused."""
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean'} | set(HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and isinstance(name, str) and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'refusing getattr({owner!r}, {name!r}): the only attribute lookups allowed in '
                                 f'a checkpoint are HistoryBuffer statistics methods')


def empty_bytes(*args: Any) -> bytes:
    """``bytes()`` as pickled for the empty data of an empty numpy array (protocol 2 writes ``bytes()`` through
    a global); any argument is refused, so a checkpoint cannot make the loader allocate or convert anything."""
    if args:
        raise pickle.UnpicklingError(f'refusing bytes{args!r}: the only bytes() call allowed in a checkpoint is '
                                     f'the empty one of an empty numpy array')
    return b''


def safe_globals() -> List[Any]:
    """The exact non-tensor types that mmagent lets ``torch.load(weights_only=True)`` rebuild."""
    from mmengine.logging.history_buffer import HistoryBuffer

    reconstruct = np.core.multiarray._reconstruct
    scalar = np.core.multiarray.scalar
    allowed: List[Any] = [
        HistoryBuffer,  # mmengine MessageHub log scalars ...
        (history_buffer_statistic, 'builtins.getattr'),  # ... and their statistics methods
        np.ndarray,
        (empty_bytes, 'builtins.bytes'),  # the data of an empty array (an empty HistoryBuffer holds two)
        np.dtype,
        reconstruct,
        scalar,
        # numpy 2 writes these paths; map them to the same functions so both kinds of files load.
        (reconstruct, 'numpy._core.multiarray._reconstruct'),
        (scalar, 'numpy._core.multiarray.scalar'),
        (InertConfigNode, 'yacs.config.CfgNode'),
    ]
    # Each numpy dtype instance has its own class (numpy.dtypes.Float64DType, ...); BUILD on a dtype checks it.
    allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return allowed


def register_safe_globals() -> None:
    """Allow-list :func:`safe_globals` for every ``torch.load`` in this process (mmengine's included)."""
    torch.serialization.add_safe_globals(safe_globals())


# Phrases of torch's weights-only unpickler when a pickle asks for something outside the allow-list.
_UNSAFE = re.compile(r'global|Can only|unrecognized function|allowlist|refusing', re.IGNORECASE)


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """Read a checkpoint file safely; raise ``FileNotFoundError`` / :class:`CheckpointError` naming the
    problem (missing, empty, truncated or not a checkpoint, or holding pickled code)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint file not found: '{path}'")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint path '{path}' is a directory, not a file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint file '{path}' is empty")
    register_safe_globals()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        unsafe_lines = [line.strip() for line in text.splitlines() if _UNSAFE.search(line)]
        if unsafe_lines:
            detail = unsafe_lines[0]
            raise CheckpointError(
                f"refused to load '{path}': it contains a pickled object that is not on mmagent's allow-list of "
                f'safe types, and loading it could execute code ({detail}). Only tensors, containers and '
                f'the types in mmagent.utils.checkpoint.safe_globals() are accepted.') from None
        raise CheckpointError(f"'{path}' is not a PyTorch checkpoint (corrupt or not a .pth file): "
                              f'{text.splitlines()[-1] if text else error!r}') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, IndexError, KeyError) as error:
        raise CheckpointError(f"'{path}' is not a readable PyTorch checkpoint (truncated or corrupt file?): "
                              f'{error}') from None


def extract_state_dict(checkpoint: Any, source: str = 'checkpoint') -> Dict[str, torch.Tensor]:
    """Unwrap a container: ``state_dict`` (mmengine) -> ``model`` (official ImageNet) -> a bare state dict.

    Non-tensor entries are ignored and a ``module.`` prefix (DDP) is stripped.
    """
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f'{source} holds a {type(checkpoint).__name__}, not a state dict or a checkpoint '
                              f'container')
    state = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            state = checkpoint[key]
            break
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f'{source} contains no tensors (keys: {sorted(map(str, checkpoint))[:10]})')
    if all(k.startswith('module.') for k in tensors):
        tensors = {k[len('module.'):]: v for k, v in tensors.items()}
    return tensors
