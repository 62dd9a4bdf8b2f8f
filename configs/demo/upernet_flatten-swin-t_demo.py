# Demo segmentor with FLatten-Swin-T (the Agent-PVT-T demo with the backbone swapped).
_base_ = './upernet_agent-pvt-t_demo.py'

model = dict(
    backbone=dict(_delete_=True, type='FLattenSwinTransformer', arch='t', drop_path_rate=0.0, init_cfg=None),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
