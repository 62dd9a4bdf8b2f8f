# Agent-PVT-T + Mask R-CNN, 1x (official agent_pvt_t_mrcnn_1x_12-16-28-28.py):
# mmdet's Mask R-CNN R50-FPN 1x setting (single-scale 1333x800, flip) with AdamW lr 2e-4, wd 1e-4, as the
# official PVT detection recipe.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/no_decay/agent.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentPVT',
        arch='t',
        agent_shapes=(12, 16, 28, 28),  # the official downstream agent grids
        drop_path_rate=0.1,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_pvt_t_max_acc.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))

# No weight decay: the Agent family rule (configs/_base_/no_decay/agent.py; the official file has none).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
