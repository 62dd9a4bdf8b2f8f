# Agent-CSwin-B + UperNet, ADE20K 160k: the T recipe with CSWin-B's drop path 0.6 (no published counterpart).
_base_ = './upernet_agent-cswin-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.6, init_cfg=dict(checkpoint='checkpoints/agent_cswin_b.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
