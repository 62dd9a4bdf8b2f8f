# Agent-Swin-B + UperNet, ADE20K 160k (official upernet_agent_swin_b; drop path 0.5).
_base_ = './upernet_agent-swin-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.5, init_cfg=dict(checkpoint='checkpoints/agent_swin_b_max_acc.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
