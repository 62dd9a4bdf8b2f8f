# Agent-Swin-B + Mask R-CNN, 1x. No official config or result exists (the README's link points to a missing
# file); mmagent baseline with the Agent-Swin recipe and the drop-path rate of the official
# Agent-Swin-B Cascade config (0.4).
_base_ = './mask-rcnn_agent-swin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.4, init_cfg=dict(checkpoint='checkpoints/agent_swin_b_max_acc.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
