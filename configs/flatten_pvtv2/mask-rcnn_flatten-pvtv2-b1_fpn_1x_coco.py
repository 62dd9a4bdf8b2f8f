# FLatten-PVTv2-B1 + Mask R-CNN, 1x. No published FLatten-PVTv2 downstream result or recipe: mmagent adopts the
# PVTv2 one (configs/_base_/recipes/mask-rcnn_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 2e-4, wd 1e-4,
# 12 epochs, batch 16), drop path 0.1, with the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/mask-rcnn_pvt_1x.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenPVTv2',
        arch='b1',
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # Only FLatten-PVTv2-B0 has released ImageNet weights (see the b0 configs); B1-B4 train from scratch
        # unless you point init_cfg to a classification checkpoint of your own.
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
