# Demo segmentor: UperNet with Agent-PVT-T on the generated shapes dataset in ADE20K layout
# (python tools/make_demo_data.py; data and schedule: configs/_base_/demo/ade_shapes.py). Keeps mmseg's SyncBN
# heads: tools/train.py turns them into BN for a single-process run. Narrow heads keep it CPU-friendly.
_base_ = ['mmseg::_base_/models/upernet_swin.py', '../_base_/demo/ade_shapes.py', '../_base_/runtime/mmagent.py']

num_classes = 5

model = dict(
    data_preprocessor=dict(size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='AgentPVT',
        arch='t',
        agent_shapes=(7, 7, 7, 7),
        drop_path_rate=0.0,
        init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=128, num_classes=num_classes),
    auxiliary_head=dict(in_channels=320, channels=64, num_classes=num_classes))
