# Agent-Swin-T + UperNet, ADE20K 160k (official upernet_agent_swin_t_9-12-14-7.py): mmseg's Swin-T
# UperNet recipe (AdamW 6e-5, wd 0.01, 1500-iter warmup, poly, 512x512 crops) with the Agent-Swin backbone.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', '../_base_/no_decay/agent.py',
    '../_base_/runtime/mmagent.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentSwinTransformer',
        arch='t',
        agent_shapes=(9, 12, 14, 7),
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_swin_t_max_acc.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

# No weight decay: the Agent family rule (configs/_base_/no_decay/agent.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
