# Agent-Swin-T on ImageNet-1k at 224: the evaluation config of the released checkpoint
# (tools/test.py THIS_CONFIG official.pth loads the file as released) and the official 300-epoch
# training recipe (configs/_base_/classification/in1k_swin_224.py).
_base_ = [
    '../../_base_/classification/in1k_swin_224.py',
    '../../_base_/no_decay/agent.py',
]

model = dict(
    backbone=dict(
        type='AgentSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        # the classification form: agent grids P x P = sqrt(agent_num), no shift on a map that fits in
        # one window (stage 4 at 224), as the official classification model
        agent_shapes=(3, 4, 7, 7),
        no_shift_on_small_map=True,
    ),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
