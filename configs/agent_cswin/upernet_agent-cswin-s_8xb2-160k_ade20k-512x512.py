# Agent-CSwin-S + UperNet, ADE20K 160k: the T recipe with CSWin-S's drop path 0.4 (no published counterpart).
_base_ = './upernet_agent-cswin-t_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.4, init_cfg=dict(checkpoint='checkpoints/agent_cswin_s.pth')))
