# Agent-PVT-T + Mask R-CNN, 1x (official agent_pvt_t_mrcnn_1x_12-16-28-28.py): the PVT Mask R-CNN recipe
# (configs/_base_/recipes/mask-rcnn_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 2e-4, wd 1e-4).
_base_ = ['../_base_/recipes/mask-rcnn_pvt_1x.py', '../_base_/no_decay/agent.py', '../_base_/models/agent-pvt-t.py']

model = dict(
    backbone={{_base_.agent_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

# No weight decay: the Agent family rule (configs/_base_/no_decay/agent.py; the official file has none).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
