# FLatten-PVT-T + RetinaNet, 1x: mmagent baseline, no published counterpart. The PVT RetinaNet recipe
# (configs/_base_/recipes/retinanet_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 1e-4, wd 1e-4), drop
# path 0.2 as the other FLatten-PVT configs, the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/retinanet_pvt_1x.py', '../_base_/no_decay/flatten.py', '../_base_/models/flatten-pvt-t.py']

model = dict(
    backbone={{_base_.flatten_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
