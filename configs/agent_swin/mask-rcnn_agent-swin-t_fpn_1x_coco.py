# Agent-Swin-T + Mask R-CNN, 1x (official agent_swin_t_mrcnn_1x_9-12-14-7.py).
# The official recipe trains 1x with the same multi-scale + crop pipeline as 3x, so this inherits mmdet's
# Swin "ms-crop" config and keeps its pipeline, AdamW (lr 1e-4, wd 0.05) and test settings.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    '../_base_/no_decay/agent.py',
    '../_base_/runtime/mmagent.py',
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentSwinTransformer',
        arch='t',
        agent_shapes=(9, 12, 14, 7),  # the official downstream agent grids
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        # ImageNet checkpoint as released (see configs/agent_swin/README.md); converted on load.
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_swin_t_max_acc.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
# No weight decay: the Agent family rule (configs/_base_/no_decay/agent.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
