# Agent-Swin-S + Cascade Mask R-CNN, 1x: mmagent baseline, no published counterpart (the official repository
# has the 3x config only); drop path 0.1 as its 3x config.
_base_ = './cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/agent_swin_s_max_acc.pth')))
