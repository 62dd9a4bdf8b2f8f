# Agent-Swin-S + UperNet, ADE20K 160k (official upernet_agent_swin_s; seg agent grids 9-12-7-7, the stage-3
# entry is unused because stage 3 of Agent-Swin-S is all window attention).
_base_ = './upernet_agent-swin-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='s', agent_shapes=(9, 12, 7, 7), init_cfg=dict(checkpoint='checkpoints/agent_swin_s_max_acc.pth')))
