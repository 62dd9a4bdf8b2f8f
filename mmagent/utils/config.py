"""Config helpers shared by the runner, the tools and the analysis: loading configs by path (including
``mmdet::`` / ``mmseg::`` paths of installed packages, resolved by mmengine), telling the task of a config,
and turning SyncBN into BN for single-process runs."""
from typing import Any, Optional

from mmengine.config import Config

__all__ = ['TASKS', 'resolve_config_path', 'load_config', 'task_of', 'import_task', 'convert_sync_bn']

TASKS = ('mmdet', 'mmseg', 'mmpretrain')


def resolve_config_path(path: str) -> str:
    """A config path, or ``'mmdet::swin/x.py'`` / ``'mmseg::...'`` for a config shipped with an installed
    OpenMMLab package (resolved as mmengine resolves ``_base_`` entries). Raises ``FileNotFoundError`` with
    the path tried."""
    import os.path as osp
    if '::' in path:
        from mmengine.config.utils import _get_external_cfg_base_path, _get_package_and_cfg_path
        from mmengine.utils import get_installed_path, is_installed
        try:
            package, relative = _get_package_and_cfg_path(path)  # module name -> distribution name
        except (ValueError, AssertionError):
            package = None
        if package is None or not is_installed(package):
            raise FileNotFoundError(f'config {path!r}: package {path.split("::")[0]!r} is not installed '
                                    f'(or is not an OpenMMLab package mmengine knows)')
        try:
            return _get_external_cfg_base_path(get_installed_path(package), relative)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'config {path!r} not found: {error}') from None
    if not osp.isfile(path):
        raise FileNotFoundError(f"config file not found: '{path}'")
    return path


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` of :func:`resolve_config_path`, with ``--cfg-options`` merged in."""
    cfg = Config.fromfile(resolve_config_path(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def task_of(cfg: Config) -> str:
    """'mmdet', 'mmseg' or 'mmpretrain', from the config's ``default_scope`` (set by every base runtime of those
    packages)."""
    scope = cfg.get('default_scope')
    if scope in TASKS:
        return scope
    raise ValueError(f"cannot tell whether this is an mmdet, mmseg or mmpretrain config: default_scope is "
                     f"{scope!r}. Inherit a base runtime (e.g. _base_ = 'mmdet::_base_/default_runtime.py') or set "
                     f"default_scope = 'mmdet' / 'mmseg' / 'mmpretrain'.")


def import_task(task: str) -> None:
    """Make a task's registries complete before a config of it is built: mmpretrain's models, datasets and
    metrics are imported on demand (without torchvision, :mod:`mmagent.utils.mmpretrain_compat`)."""
    if task == 'mmpretrain':
        from .mmpretrain_compat import import_mmpretrain
        if not import_mmpretrain():
            raise ValueError('this is an mmpretrain config, but mmpretrain is not installed (make install '
                             'installs it; or pip install mmpretrain==1.2.0)')


def convert_sync_bn(node: Any) -> int:
    """Replace ``type='SyncBN'`` with ``'BN'`` everywhere in a config subtree (in place); returns how many.

    The one place mmagent turns SyncBN off: single-process runs, runs without CUDA and the analysis tools
    (a count or a benchmark is one process; BN and SyncBN compute the same per process)."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += convert_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += convert_sync_bn(value)
    return count
