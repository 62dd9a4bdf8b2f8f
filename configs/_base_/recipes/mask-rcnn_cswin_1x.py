# The CSWin Mask R-CNN recipe, for Agent-CSwin and FLatten-CSwin. CSWin trains its detectors with Swin's
# recipe (the CSWin paper; its repository has no detection code), so this is mmdet's Swin one: the multi-scale
# + crop pipeline of mmdet's Swin "ms-crop" config, AdamW lr 1e-4, weight decay 0.05, 500-iteration warm-up,
# 12 epochs (steps at 8 and 11), total batch 16. A config on it replaces model.backbone (with _delete_=True);
# the neck takes the CSwin-T/S widths (64-128-256-512; CSwin-B: 96-192-384-768).
_base_ = ['mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py', '../runtime/mmagent.py']

model = dict(neck=dict(in_channels=[64, 128, 256, 512]))
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
