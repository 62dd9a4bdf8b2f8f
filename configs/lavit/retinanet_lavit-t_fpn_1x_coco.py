# LaViT-T + RetinaNet, COCO 1x: the detector the LaViT paper reports (its numbers are second-hand, see
# configs/lavit/README.md, and this is mmagent's INTERPRETATION of LaViT: never a reproduction). Recipe: the PVT
# RetinaNet recipe: mmdet's RetinaNet R50-FPN 1x (single-scale 1333x800, flip 0.5), AdamW lr 1e-4, weight decay
# 1e-4, total batch 16, with the LaViT weight-decay rule and loss_dp added by AuxLossWrapper.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/models/lavit-t.py',
    '../_base_/no_decay/lavit.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='AuxLossWrapper',  # RetinaNet whose loss() also returns the backbone's loss_dp
    model_type='RetinaNet',
    backbone={{_base_.lavit_backbone}},
    # RetinaNet's base neck starts at level 1 with extra convs on the input: P3-P7 from stages 2-4.
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
