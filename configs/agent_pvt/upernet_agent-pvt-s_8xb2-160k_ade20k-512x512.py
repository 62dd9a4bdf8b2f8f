# Agent-PVT-S + UperNet, ADE20K 160k: mmagent baseline, no published counterpart (drop path 0.1, the
# official Semantic FPN value).
_base_ = './upernet_agent-pvt-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='s', drop_path_rate=0.1, init_cfg=dict(checkpoint='checkpoints/agent_pvt_s_max_acc.pth')))
