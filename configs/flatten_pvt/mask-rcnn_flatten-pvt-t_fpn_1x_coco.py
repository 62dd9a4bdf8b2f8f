# FLatten-PVT-T + Mask R-CNN, 1x. No published recipe: mmagent adopts the PVT / Agent-PVT one
# (configs/_base_/recipes/mask-rcnn_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 2e-4, wd 1e-4, 12 epochs,
# batch 16), drop path 0.2.
_base_ = ['../_base_/recipes/mask-rcnn_pvt_1x.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenPVT',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_pvt_t.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))

# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
