# FLatten-Swin-T + Mask R-CNN, 1x. The FLatten paper publishes no recipe and there is no official downstream
# code: mmagent adopts the Swin / Agent-Swin one: mmdet's Swin multi-scale +
# crop pipeline, AdamW lr 1e-4, wd 0.05, 500-iteration warmup, 12 epochs, batch 16, drop path 0.2.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    '../_base_/no_decay/flatten.py',
    '../_base_/runtime/mmagent.py',
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # ImageNet checkpoint as released (see configs/flatten_swin/README.md); converted on load.
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_swin_t.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
