# FLatten-PVT-T + Mask R-CNN, 1x. No published recipe: mmagent adopts the PVT / Agent-PVT one
# (configs/_base_/recipes/mask-rcnn_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 2e-4, wd 1e-4, 12 epochs,
# batch 16), drop path 0.2.
_base_ = ['../_base_/recipes/mask-rcnn_pvt_1x.py', '../_base_/no_decay/flatten.py', '../_base_/models/flatten-pvt-t.py']

model = dict(
    backbone={{_base_.flatten_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
