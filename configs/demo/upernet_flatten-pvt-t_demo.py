# Demo segmentor with FLatten-PVT-T (the Agent-PVT-T demo with the backbone swapped).
_base_ = './upernet_agent-pvt-t_demo.py'

model = dict(backbone=dict(_delete_=True, type='FLattenPVT', arch='t', drop_path_rate=0.0, init_cfg=None))
