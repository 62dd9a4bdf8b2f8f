"""Pre-flight checks of the datasets a config points at, run by ``tools/train.py`` and ``tools/test.py``
before anything is built: a wrong path or a broken annotation file fails at once with a message naming
the config key and the file, instead of a traceback from deep inside a dataloader worker or pycocotools."""
import json
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Tuple

__all__ = ['DatasetConfigError', 'check_datasets']


class DatasetConfigError(ValueError):
    """A dataset of the config points at something missing or malformed; the message names it."""


def _datasets(node: Any, key: str) -> Iterator[Tuple[str, Dict]]:
    """(config key, dataset dict) for a dataset config and the datasets it wraps."""
    if not isinstance(node, dict):
        return
    inner = node.get('dataset')
    if isinstance(inner, dict):  # RepeatDataset, ClassBalancedDataset, MultiImageMixDataset, ...
        yield from _datasets(inner, f'{key}.dataset')
    for index, child in enumerate(node.get('datasets') or []):  # ConcatDataset
        yield from _datasets(child, f'{key}.datasets[{index}]')
    if 'ann_file' in node or 'data_prefix' in node or 'data_root' in node:
        yield key, node


def _join(root: str, path: str) -> str:
    return path if not root or osp.isabs(path) or '://' in path else osp.join(root, path)


def _check_coco(path: str, key: str, needs_images: bool) -> None:
    if os.path.getsize(path) == 0:
        raise DatasetConfigError(f"annotation file '{path}' ({key}) is empty")
    try:
        with open(path) as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetConfigError(f"annotation file '{path}' ({key}) is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise DatasetConfigError(f"annotation file '{path}' ({key}) is not in COCO format: the top level is a "
                                 f'{type(content).__name__}, expected an object with images, annotations and '
                                 f'categories')
    missing = [k for k in ('images', 'annotations', 'categories') if not isinstance(content.get(k), list)]
    if missing:
        raise DatasetConfigError(f"annotation file '{path}' ({key}) is not in COCO format: no list "
                                 f'{", ".join(repr(m) for m in missing)}')
    if not content['categories']:
        raise DatasetConfigError(f"annotation file '{path}' ({key}) defines no categories")
    if needs_images and not content['images']:
        raise DatasetConfigError(f"annotation file '{path}' ({key}) lists no images")
    for index, ann in enumerate(content['annotations'][:1000]):
        if not isinstance(ann, dict) or 'image_id' not in ann or 'bbox' not in ann:
            raise DatasetConfigError(f"annotation file '{path}' ({key}): annotation #{index} lacks image_id or "
                                     f'bbox: {str(ann)[:120]}')


def check_datasets(cfg, phases: Tuple[str, ...] = ('train', 'val', 'test')) -> List[str]:
    """Check every ``{phase}_dataloader`` dataset of ``cfg``; returns what was checked.

    Raises:
        DatasetConfigError: naming the config key and the path that is missing, empty or malformed.
    """
    checked = []
    for phase in phases:
        loader = cfg.get(f'{phase}_dataloader')
        if not loader:
            continue
        for key, dataset in _datasets(loader.get('dataset'), f'{phase}_dataloader.dataset'):
            root = dataset.get('data_root') or ''
            if root and '://' not in root and not osp.isdir(root):
                raise DatasetConfigError(f"{key}.data_root '{root}' does not exist (set it in the config or with "
                                         f'--cfg-options {key}.data_root=PATH)')
            ann_file = dataset.get('ann_file')
            if ann_file:
                path = _join(root, ann_file)
                if '://' not in path:
                    if not osp.isfile(path):
                        raise DatasetConfigError(f"{key}.ann_file '{path}' does not exist")
                    if path.endswith('.json'):
                        _check_coco(path, f'{key}.ann_file', needs_images=phase == 'train')
                    checked.append(path)
            prefixes = dataset.get('data_prefix') or {}
            for name, prefix in (prefixes.items() if isinstance(prefixes, dict) else []):
                if not prefix:
                    continue
                path = _join(root, prefix)
                if '://' in path:
                    continue
                if not osp.isdir(path):
                    raise DatasetConfigError(f"{key}.data_prefix.{name} '{path}' does not exist")
                if not ann_file and not any(os.scandir(path)):
                    raise DatasetConfigError(f"{key}.data_prefix.{name} '{path}' is empty")
                checked.append(path)
    return checked
