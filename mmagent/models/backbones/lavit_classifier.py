"""LaViT's ImageNet classification form (the size targets and the pretraining model)."""
from typing import Dict, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...registry import register_model
from .lavit import LaViT

__all__ = ['LaViTClassifier']


@register_model
class LaViTClassifier(LaViT):
    """``norm4`` → mean over the last stage's tokens → Linear(C_4, classes).

    Used for the size targets (params / FLOPs at 224) and for ImageNet pretraining; its state dict is the
    backbone's plus ``head.*``, which ``init_cfg=Pretrained`` of :class:`LaViT` drops.

    Args:
        num_classes: classes of the head.
        Others: as :class:`LaViT`; ``out_indices`` is fixed to the last stage.

    ``forward(x)``: (B, 3, H, W) -> logits (B, num_classes). ``loss(x, labels)`` -> dict with ``loss_cls``
    (cross entropy) and, in training mode with ``loss_dp`` enabled, ``loss_dp``.
    """

    def __init__(self, arch: Union[str, dict, None] = None, num_classes: int = 1000, **kwargs) -> None:
        if 'out_indices' in kwargs:
            raise TypeError('LaViTClassifier: out_indices is fixed to the last stage')
        num_stages = self.num_stages_of(dict(kwargs, arch=arch))
        super().__init__(arch=arch, out_indices=(num_stages - 1, ), **kwargs)
        self.head = nn.Linear(self.embed_dims[-1], num_classes)
        nn.init.trunc_normal_(self.head.weight, std=.02)
        nn.init.zeros_(self.head.bias)
        self.collect_aux_losses = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(super().forward(x)[-1].mean(dim=(2, 3)))

    def loss(self, x: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        losses = dict(loss_cls=F.cross_entropy(self(x), labels))
        losses.update(self.pop_aux_losses())
        return losses
