# Agent-PVT-T on ImageNet-1k at 224: the evaluation config of the released checkpoint
# (tools/test.py THIS_CONFIG official.pth loads the file as released) and the official 300-epoch
# training recipe (configs/_base_/classification/in1k_pvt_224.py).
_base_ = [
    '../../_base_/classification/in1k_pvt_224.py',
    '../../_base_/no_decay/agent.py',
]

model = dict(
    backbone=dict(
        type='AgentPVT',
        arch='t',
        drop_path_rate=0.1,
        agent_shapes=(3, 4, 7, 7),  # the classification form: P x P = sqrt(agent_num) agents
    ),
    head=dict(in_channels=512))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
