"""Pre-flight checks of the datasets a config points at, run by ``tools/train.py`` and ``tools/test.py``
before anything is built: a wrong path or a broken annotation file fails at once with a message naming
the config key and the file, instead of a traceback from deep inside a dataloader worker or pycocotools."""
import json
import math
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_coco(path: str, key: str, needs_images: bool, image_dir: Optional[str] = None,
                with_mask: bool = False) -> None:
    """Structure of a COCO file, and the images it lists when ``image_dir`` is local: every problem that
    mmdet would otherwise meet as a bare KeyError or OpenCV assertion in a dataloader worker, named here."""
    where = f"annotation file '{path}' ({key})"
    if os.path.getsize(path) == 0:
        raise DatasetConfigError(f'{where} is empty')
    try:
        with open(path) as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetConfigError(f'{where} is not valid JSON: {error}') from None
    if not isinstance(content, dict):
        raise DatasetConfigError(f'{where} is not in COCO format: the top level is a {type(content).__name__}, '
                                 f'expected an object with images, annotations and categories')
    missing = [k for k in ('images', 'annotations', 'categories') if not isinstance(content.get(k), list)]
    if missing:
        raise DatasetConfigError(f'{where} is not in COCO format: no list {", ".join(repr(m) for m in missing)}')
    if not content['categories']:
        raise DatasetConfigError(f'{where} defines no categories')
    if needs_images and not content['images']:
        raise DatasetConfigError(f'{where} lists no images')
    category_ids = set()
    for index, category in enumerate(content['categories']):
        if not isinstance(category, dict) or 'id' not in category:
            raise DatasetConfigError(f'{where}: category #{index} has no id: {str(category)[:120]}')
        category_ids.add(category['id'])
    image_ids = set()
    for index, image in enumerate(content['images']):
        if not isinstance(image, dict) or 'id' not in image or not isinstance(image.get('file_name'), str):
            raise DatasetConfigError(f'{where}: image #{index} lacks id or file_name: {str(image)[:120]}')
        if image['id'] in image_ids:
            raise DatasetConfigError(f"{where}: image id {image['id']} is used twice (second time by "
                                     f"'{image['file_name']}'); image ids must be unique")
        image_ids.add(image['id'])
        if image_dir is not None:
            file = osp.join(image_dir, image['file_name'])
            try:
                size = os.path.getsize(file)
            except OSError:
                raise DatasetConfigError(f"{where}: image file '{file}' (image id {image['id']}) does not "
                                         f'exist') from None
            if size == 0:
                raise DatasetConfigError(f"{where}: image file '{file}' (image id {image['id']}) is empty "
                                         f'(0 bytes)')
    for index, ann in enumerate(content['annotations']):
        if not isinstance(ann, dict) or 'image_id' not in ann or 'bbox' not in ann:
            raise DatasetConfigError(f'{where}: annotation #{index} lacks image_id or bbox: {str(ann)[:120]}')
        name = f"annotation #{index} (id {ann.get('id')}, image id {ann['image_id']})"
        bbox = ann['bbox']
        if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
            raise DatasetConfigError(f'{where}: {name} has bbox {str(bbox)[:80]}; expected [x, y, width, height], '
                                     f'four finite numbers')
        if ann.get('category_id') not in category_ids:
            raise DatasetConfigError(f"{where}: {name} has category_id {ann.get('category_id')!r}, which is not "
                                     f'among the categories ({sorted(category_ids)[:20]})')
        if with_mask and not ann.get('iscrowd') and not ann.get('segmentation'):
            raise DatasetConfigError(f'{where}: {name} has no segmentation polygon, but the pipeline loads masks '
                                     f'(LoadAnnotations with_mask=True); drop the annotation or give its polygon')


def _loads_masks(dataset: Dict) -> bool:
    return any(isinstance(step, dict) and step.get('type') == 'LoadAnnotations' and step.get('with_mask')
               for step in dataset.get('pipeline') or [])


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
                        prefixes = dataset.get('data_prefix') or {}
                        image_dir = _join(root, prefixes.get('img', '')) if isinstance(prefixes, dict) else None
                        local = image_dir is not None and '://' not in image_dir and osp.isdir(image_dir)
                        _check_coco(path, f'{key}.ann_file', needs_images=phase == 'train',
                                    image_dir=image_dir if local else None, with_mask=_loads_masks(dataset))
                    checked.append(path)
            prefixes = dataset.get('data_prefix') or {}
            if isinstance(prefixes, str):  # mmpretrain datasets: one image folder
                prefixes = dict(img_path=prefixes)
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
