# Agent-Swin-B + Cascade Mask R-CNN, 1x: mmagent baseline, no published counterpart (the official repository
# has the 3x config only); drop path 0.4 as its 3x config.
_base_ = './cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.4, init_cfg=dict(checkpoint='checkpoints/agent_swin_b_max_acc.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
