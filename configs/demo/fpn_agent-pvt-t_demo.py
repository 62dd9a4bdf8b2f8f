# Demo: Semantic FPN with Agent-PVT-T on the generated shapes dataset in ADE20K layout (data and schedule:
# configs/_base_/demo/ade_shapes.py); narrow FPN head for the CPU.
_base_ = ['mmseg::_base_/models/fpn_r50.py', '../_base_/demo/ade_shapes.py', '../_base_/runtime/mmagent.py']

model = dict(
    pretrained=None,
    data_preprocessor=dict(size_divisor=32),
    backbone=dict(
        _delete_=True, type='AgentPVT', arch='t', agent_shapes=(7, 7, 7, 7), drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512], out_channels=128),
    decode_head=dict(in_channels=[128, 128, 128, 128], channels=64, num_classes=5))
