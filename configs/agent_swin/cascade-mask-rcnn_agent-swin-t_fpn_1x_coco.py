# Agent-Swin-T + Cascade Mask R-CNN, 1x (official agent_swin_t_crcnn_1x_9-12-14-7.py): the Swin cascade recipe
# (configs/_base_/recipes/cascade-mask-rcnn_swin_1x.py: 4conv1fc SyncBN heads, GIoU, multi-scale + crop, AdamW
# lr 1e-4, wd 0.05), the official downstream agent grids and drop path 0.1, the Agent weight-decay rule.
_base_ = ['../_base_/recipes/cascade-mask-rcnn_swin_1x.py', '../_base_/no_decay/agent.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentSwinTransformer',
        arch='t',
        agent_shapes=(9, 12, 14, 7),
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_swin_t_max_acc.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
