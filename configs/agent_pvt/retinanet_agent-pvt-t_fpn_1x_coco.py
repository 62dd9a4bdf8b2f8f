# Agent-PVT-T + RetinaNet, 1x (official agent_pvt_t_rtn_1x_12-16-28-28.py): the PVT RetinaNet recipe
# (configs/_base_/recipes/retinanet_pvt_1x.py: single-scale 1333x800, flip, AdamW lr 1e-4, wd 1e-4), the
# official downstream agent grids, drop path 0.1, the Agent weight-decay rule (the official file has none).
_base_ = ['../_base_/recipes/retinanet_pvt_1x.py', '../_base_/no_decay/agent.py', '../_base_/models/agent-pvt-t.py']

model = dict(
    backbone={{_base_.agent_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
