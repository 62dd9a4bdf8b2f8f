# FLatten-PVTv2-B1 + RetinaNet, 1x: no published counterpart. The PVTv2 RetinaNet recipe
# (configs/_base_/recipes/retinanet_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 1e-4, wd 1e-4, batch 16),
# drop path 0.1, with the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/retinanet_pvt_1x.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FLattenPVTv2', arch='b1', drop_path_rate=0.1, out_indices=(0, 1, 2, 3), init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
