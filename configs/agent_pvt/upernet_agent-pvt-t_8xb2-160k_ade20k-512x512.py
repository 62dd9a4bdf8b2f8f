# Agent-PVT-T + UperNet, ADE20K 160k. The official Agent-PVT segmentation results use Semantic FPN; no UperNet
# result is published, so this is an mmagent baseline: mmseg's Swin UperNet recipe (AdamW 6e-5, wd 0.01,
# 1500-iter warmup, poly, 512x512 crops) with the PVT widths.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', '../_base_/no_decay/agent.py',
    '../_base_/models/agent-pvt-t.py',
    '../_base_/runtime/mmagent.py'
]

model = dict(
    backbone={{_base_.agent_pvt_backbone}},
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))

# No weight decay: the Agent family rule (configs/_base_/no_decay/agent.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
