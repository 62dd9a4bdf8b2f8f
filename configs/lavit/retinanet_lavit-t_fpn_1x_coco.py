# LaViT-T + RetinaNet, COCO 1x: the detector the LaViT paper reports (its numbers are second-hand, see
# configs/lavit/README.md, and this is mmagent's INTERPRETATION of LaViT: never a reproduction). Recipe: the PVT
# RetinaNet recipe (configs/_base_/recipes/retinanet_pvt_1x.py: single-scale 1333x800, flip 0.5, AdamW lr 1e-4,
# weight decay 1e-4, total batch 16), with the LaViT weight-decay rule and loss_dp added by AuxLossWrapper.
_base_ = ['../_base_/recipes/retinanet_pvt_1x.py', '../_base_/models/lavit-t.py', '../_base_/no_decay/lavit.py']

model = dict(
    type='AuxLossWrapper',  # RetinaNet whose loss() also returns the backbone's loss_dp
    model_type='RetinaNet',
    backbone={{_base_.lavit_backbone}},
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
