# Demo detector with FLatten-PVTv2-B0 (the Agent-PVT-T demo with the backbone swapped).
_base_ = './mask-rcnn_agent-pvt-t_fpn_demo.py'

model = dict(
    backbone=dict(_delete_=True, type='FLattenPVTv2', arch='b0', drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[32, 64, 160, 256]))
