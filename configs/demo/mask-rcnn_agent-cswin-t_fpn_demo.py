# Demo detector with Agent-CSwin-T (the Agent-PVT-T demo with the backbone swapped).
_base_ = './mask-rcnn_agent-pvt-t_fpn_demo.py'

model = dict(
    backbone=dict(_delete_=True, type='AgentCSwinTransformer', arch='t', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]))
