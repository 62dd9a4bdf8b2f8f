# Agent-PVT-L + Semantic FPN, ADE20K 40k (official fpn_agent_pvt_l_12-16-28-28.py, drop path 0.1).
_base_ = './fpn_agent-pvt-t_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='l', drop_path_rate=0.1, init_cfg=dict(checkpoint='checkpoints/agent_pvt_l_max_acc.pth')))
