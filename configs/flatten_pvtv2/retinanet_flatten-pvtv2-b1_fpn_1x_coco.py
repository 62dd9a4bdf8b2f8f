# FLatten-PVTv2-B1 + RetinaNet, 1x: no published counterpart. The PVTv2 RetinaNet recipe (whai362/PVT): mmdet's
# RetinaNet R50-FPN 1x (single-scale 1333x800, flip), AdamW lr 1e-4, weight decay 1e-4, batch 16, drop path 0.1,
# with the FLatten weight-decay rule.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/no_decay/flatten.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True, type='FLattenPVTv2', arch='b1', drop_path_rate=0.1, out_indices=(0, 1, 2, 3), init_cfg=None),
    # RetinaNet's base neck starts at level 1 with extra convs on the input: P3-P7 from stages 2-4.
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
