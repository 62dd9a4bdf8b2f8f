# LaViT-T + Mask R-CNN, COCO 1x. LaViT here is mmagent's INTERPRETATION of the paper (configs/lavit/README.md);
# no published LaViT Mask R-CNN result exists. Recipe: the PVT-family Mask R-CNN recipe
# (configs/_base_/recipes/mask-rcnn_pvt_1x.py: single-scale 1333x800, flip 0.5, AdamW lr 2e-4, weight decay
# 1e-4, total batch 16), with the LaViT weight-decay rule and loss_dp added to the detector's losses by
# AuxLossWrapper.
_base_ = ['../_base_/recipes/mask-rcnn_pvt_1x.py', '../_base_/models/lavit-t.py', '../_base_/no_decay/lavit.py']

model = dict(
    type='AuxLossWrapper',  # MaskRCNN whose loss() also returns the backbone's loss_dp
    model_type='MaskRCNN',
    backbone={{_base_.lavit_backbone}},
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
