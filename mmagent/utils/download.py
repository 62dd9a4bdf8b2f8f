"""Checkpoints from URLs, verified.

``init_cfg=dict(type='Pretrained', checkpoint='https://...')`` downloads into the cache mmengine's
``load_from_http`` uses (``$TORCH_HOME/checkpoints``, default ``~/.cache/torch/checkpoints``) with the same
downloader (``torch.hub.download_url_to_file``), once per machine; rank 0 downloads and the other ranks wait.
Unlike mmengine, the file's SHA-256 is checked on every use, cached copy included, against

* an explicit ``sha256`` (the full digest or a prefix of at least 8 hex digits), or else
* the OpenMMLab file-name suffix, ``name-<first 8 hex digits of the sha256>.pth``.

A mismatch removes the cached file (a later run downloads again) and raises :class:`CheckpointError` naming
the expected and the actual digest. A URL without either is loaded with a warning that nothing was verified.
"""
import hashlib
import os
import os.path as osp
import re
from typing import Optional
from urllib.parse import urlparse

from mmengine.dist import barrier, get_dist_info
from mmengine.logging import print_log

from .checkpoint import CheckpointError

__all__ = ['is_url', 'sha256_of', 'expected_sha256', 'verify_sha256', 'fetch_checkpoint', 'checkpoint_cache_dir']

# OpenMMLab (and torch.hub) name checkpoints '<name>-<first 8+ hex digits of the sha256>.pth'.
_HASH_SUFFIX = re.compile(r'-([0-9a-f]{8,64})\.pth?$')
_HEX = re.compile(r'^[0-9a-f]{8,64}$')


def is_url(path: str) -> bool:
    return isinstance(path, str) and path.startswith(('http://', 'https://'))


def checkpoint_cache_dir() -> str:
    """Where mmengine's ``load_from_http`` caches checkpoints: ``$TORCH_HOME/checkpoints``."""
    from torch.hub import _get_torch_home
    return osp.join(_get_torch_home(), 'checkpoints')


def sha256_of(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(name: str, explicit: Optional[str] = None) -> Optional[str]:
    """The digest (or prefix) to check: ``explicit`` if given, else the file-name suffix, else None."""
    if explicit is not None:
        value = str(explicit).lower()
        if not _HEX.match(value):
            raise ValueError(f'sha256 must be 8 to 64 hexadecimal digits, got {explicit!r}')
        return value
    match = _HASH_SUFFIX.search(osp.basename(urlparse(name).path if is_url(name) else name))
    return match.group(1) if match else None


def verify_sha256(path: str, expected: str, source: str, remove_on_mismatch: bool = False) -> str:
    """Raise :class:`CheckpointError` unless ``path``'s SHA-256 starts with ``expected``; returns the digest."""
    actual = sha256_of(path)
    if actual.startswith(expected):
        return actual
    removed = ''
    if remove_on_mismatch:
        os.remove(path)
        removed = f'; the cached copy {path} was removed'
    raise CheckpointError(f'{source} failed its integrity check: expected sha256 {expected}, got {actual}{removed}. '
                          f'The file is corrupt, incomplete or not the one the config names.')


def fetch_checkpoint(url: str, sha256: Optional[str] = None, cache_dir: Optional[str] = None) -> str:
    """Download ``url`` into the checkpoint cache (if not there yet), verify it, return the local path."""
    cache_dir = cache_dir or checkpoint_cache_dir()
    filename = osp.basename(urlparse(url).path)
    if not filename:
        raise CheckpointError(f"checkpoint URL '{url}' names no file")
    expected = expected_sha256(url, sha256)
    cached = osp.join(cache_dir, filename)
    rank, world_size = get_dist_info()
    if rank == 0 and not osp.exists(cached):
        from torch.hub import download_url_to_file
        os.makedirs(cache_dir, exist_ok=True)
        print_log(f'downloading {url} to {cached}', logger='current')
        try:  # writes a temporary file and renames it when complete
            download_url_to_file(url, cached, hash_prefix=None, progress=False)
        except Exception as error:  # URLError, HTTPError, OSError, ...
            raise CheckpointError(f"could not download checkpoint '{url}': {error}") from None
    if world_size > 1:
        barrier()
    if expected is None:
        print_log(f"checkpoint '{url}' was not verified: give init_cfg sha256=... or use a URL whose file name "
                  f'ends in -<sha256 prefix>.pth', logger='current', level=30)
        return cached
    digest = verify_sha256(cached, expected, f"checkpoint '{url}' (cached as {cached})", remove_on_mismatch=rank == 0)
    print_log(f'checkpoint {cached}: sha256 {digest} verified', logger='current')
    return cached
