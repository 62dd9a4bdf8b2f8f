# Demo segmentor with FLatten-PVTv2-B0 (the Agent-PVT-T demo with the backbone swapped).
_base_ = './upernet_agent-pvt-t_demo.py'

model = dict(
    backbone=dict(_delete_=True, type='FLattenPVTv2', arch='b0', drop_path_rate=0.0, init_cfg=None),
    decode_head=dict(in_channels=[32, 64, 160, 256]),
    auxiliary_head=dict(in_channels=160))
