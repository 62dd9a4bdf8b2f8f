# FLatten-PVTv2-B1 + Mask R-CNN, 1x. No published FLatten-PVTv2 downstream result or recipe: mmagent adopts the
# PVTv2 one (whai362/PVT detection configs): mmdet's Mask R-CNN R50-FPN 1x (single-scale 1333x800, flip),
# AdamW lr 2e-4, weight decay 1e-4, 12 epochs, batch 16, drop path 0.1, with the FLatten weight-decay rule.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/no_decay/flatten.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

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

# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
