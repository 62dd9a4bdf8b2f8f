"""Models to count and time, built from a config: the whole detector / segmentor, its backbone, or the
backbone's ImageNet classification form, all in eval mode and in the config's registry scope."""
import copy
import inspect
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ..models.backbones import BackboneBase
from ..registry import TASK_MODELS
from ..utils.config import convert_sync_bn, import_task, task_of

__all__ = ['DEFAULT_SHAPES', 'CLASSIFICATION_SHAPE', 'default_shape', 'build_model', 'build_backbone',
           'ClassificationForm', 'dummy_batch', 'classifier_test_shape']

HW = Tuple[int, int]
DEFAULT_SHAPES: Dict[str, HW] = {'mmdet': (1280, 800), 'mmseg': (512, 2048), 'mmpretrain': (224, 224)}
CLASSIFICATION_SHAPE: HW = (224, 224)


def default_shape(cfg: Config, mode: str = 'model') -> HW:
    """224×224 for the classification form, else by task: 1280×800 (mmdet), 512×2048 (mmseg), the test
    pipeline's image size (mmpretrain)."""
    if mode == 'classification':
        return CLASSIFICATION_SHAPE
    task = task_of(cfg)
    if task == 'mmpretrain':
        return classifier_test_shape(cfg)
    return DEFAULT_SHAPES[task]


def classifier_test_shape(cfg: Config) -> HW:
    """The image size an mmpretrain config evaluates at: its test pipeline's last ``CenterCrop`` or fixed-size
    ``Resize`` (224×224 when there is none)."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    shape = DEFAULT_SHAPES['mmpretrain']
    for step in (loader.get('dataset') or {}).get('pipeline') or []:
        size = step.get('crop_size') if step.get('type') == 'CenterCrop' else (
            step.get('scale') if step.get('type') == 'Resize' else None)
        if size is not None:
            shape = (size, size) if isinstance(size, int) else (size[1], size[0])  # mmcv scales are (w, h)
    return tuple(shape)


def in_eval_mode(module: nn.Module) -> nn.Module:
    module.eval()  # some OpenMMLab train() overrides (mmdet's Swin) return None, so no chaining
    return module


@contextmanager
def _scope(cfg: Config) -> Iterator[Any]:
    """The task's model registry, with the config's default scope active while building."""
    task = task_of(cfg)
    import_task(task)
    with DefaultScope.overwrite_default_scope(task):
        yield TASK_MODELS[task]


def build_model(cfg: Config) -> nn.Module:
    """The whole detector / segmentor in eval mode. SyncBN becomes BN: a count is one process, and SyncBN
    needs a process group (the FLOPs of BN and SyncBN are the same). Weights are not loaded."""
    model_cfg = copy.deepcopy(cfg.model)  # convert_sync_bn edits in place; leave the caller's config alone
    convert_sync_bn(model_cfg)
    if cfg.get('data_preprocessor') is not None:  # mmpretrain's top-level preprocessor, as the Runner passes it
        model_cfg.setdefault('data_preprocessor', copy.deepcopy(cfg.data_preprocessor))
    with _scope(cfg) as registry:
        return in_eval_mode(registry.build(model_cfg))


def build_backbone(cfg: Config, last_stage_only: bool = False) -> nn.Module:
    """``cfg.model.backbone`` alone, in eval mode; ``last_stage_only`` returns only the deepest output."""
    backbone_cfg = copy.deepcopy(cfg.model.backbone)
    convert_sync_bn(backbone_cfg)
    with _scope(cfg) as registry:
        if last_stage_only:
            backbone_cfg['out_indices'] = (_last_stage(registry.get(backbone_cfg['type']), backbone_cfg), )
        return in_eval_mode(registry.build(backbone_cfg))


def _last_stage(cls: type, backbone_cfg: dict) -> int:
    """Index of the deepest stage a backbone config returns (or would, with its default out_indices)."""
    if backbone_cfg.get('out_indices') is not None:
        return max(backbone_cfg['out_indices'])
    if isinstance(cls, type) and issubclass(cls, BackboneBase):
        return cls.num_stages_of(backbone_cfg) - 1
    default = inspect.signature(cls).parameters.get('out_indices')
    if default is None or default.default is inspect.Parameter.empty:
        raise ValueError(f"{backbone_cfg['type']} has no out_indices argument: cannot build the classification form")
    return max(default.default)


class ClassificationForm(nn.Module):
    """backbone (last stage) -> global average pool -> Linear(C, num_classes).

    The pooling is a ``mean`` as in the official Agent/FLatten classifiers, which fvcore does not count.
    """

    def __init__(self, backbone: nn.Module, channels: int, num_classes: int = 1000) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(channels, num_classes)

    @staticmethod
    def last_map(outputs: Union[torch.Tensor, Sequence[torch.Tensor]]) -> torch.Tensor:
        return outputs if isinstance(outputs, torch.Tensor) else outputs[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.last_map(self.backbone(x)).mean(dim=(2, 3)))


def dummy_batch(model: nn.Module, task: str, shape: HW) -> Tuple[torch.Tensor, list]:
    """One random image of ``shape`` through the model's own data preprocessor in test mode (normalisation
    and, where configured, padding to the size divisor)."""
    height, width = shape
    meta = dict(img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
                scale_factor=(1., 1.))
    if task == 'mmdet':
        from mmdet.structures import DetDataSample as Sample
    elif task == 'mmpretrain':
        from mmpretrain.structures import DataSample as Sample
    else:
        from mmseg.structures import SegDataSample as Sample
    image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[Sample(metainfo=meta)]), training=False)
    return data['inputs'], data['data_samples']
