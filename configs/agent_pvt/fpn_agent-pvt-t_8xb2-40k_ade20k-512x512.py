# Agent-PVT-T + Semantic FPN, ADE20K 40k (official fpn_agent_pvt_t_12-16-28-28.py): the PVT Semantic FPN recipe
# (configs/_base_/recipes/fpn_pvt_40k.py: AdamW lr 2e-4, wd 1e-4, poly 0.9 over 40k iterations, batch 16), the
# official downstream agent grids, drop path 0.1, the Agent weight-decay rule (the official file has none).
_base_ = ['../_base_/recipes/fpn_pvt_40k.py', '../_base_/no_decay/agent.py', '../_base_/models/agent-pvt-t.py']

model = dict(
    backbone={{_base_.agent_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
