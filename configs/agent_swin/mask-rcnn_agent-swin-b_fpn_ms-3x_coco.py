# Agent-Swin-B + Mask R-CNN, 3x: mmagent baseline, no published counterpart (see the 1x config).
_base_ = './mask-rcnn_agent-swin-t_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        arch='b', drop_path_rate=0.4, init_cfg=dict(checkpoint='checkpoints/agent_swin_b_max_acc.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
