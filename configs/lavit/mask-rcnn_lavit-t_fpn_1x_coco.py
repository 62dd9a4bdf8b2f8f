# LaViT-T + Mask R-CNN, COCO 1x. LaViT here is mmagent's INTERPRETATION of the paper (configs/lavit/README.md);
# no published LaViT Mask R-CNN result exists. Recipe: the PVT-family Mask R-CNN recipe mmagent uses: mmdet's
# Mask R-CNN R50-FPN 1x (single-scale 1333x800, flip 0.5), AdamW lr 2e-4, weight decay 1e-4, total batch 16,
# with the LaViT weight-decay rule (configs/_base_/no_decay/lavit.py) and loss_dp added to the detector's
# losses by AuxLossWrapper.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/models/lavit-t.py',
    '../_base_/no_decay/lavit.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='AuxLossWrapper',  # MaskRCNN whose loss() also returns the backbone's loss_dp
    model_type='MaskRCNN',
    backbone={{_base_.lavit_backbone}},
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
