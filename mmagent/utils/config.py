"""Loading configs by path, including those shipped with an installed OpenMMLab package."""
import importlib.util
import os.path as osp
from typing import Optional

from mmengine.config import Config

__all__ = ['resolve_config_path', 'load_config']


def resolve_config_path(path: str) -> str:
    """A config path, or ``'mmdet::swin/x.py'`` / ``'mmseg::...'`` for a config shipped with an installed
    OpenMMLab package. Raises ``FileNotFoundError`` with the path tried."""
    if '::' in path:
        package, relative = path.split('::', 1)
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"config {path!r}: package {package!r} is not installed")
        resolved = osp.join(osp.dirname(spec.origin), '.mim', 'configs', relative)
        if not osp.isfile(resolved):
            raise FileNotFoundError(f"config {path!r} not found: no file {resolved}")
        return resolved
    if not osp.isfile(path):
        raise FileNotFoundError(f"config file not found: '{path}'")
    return path


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` of :func:`resolve_config_path`, with ``--cfg-options`` merged in."""
    cfg = Config.fromfile(resolve_config_path(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg
