# Agent-Swin-S + Mask R-CNN, 1x (official agent_swin_s_mrcnn_1x_9-12-14-7.py).
_base_ = './mask-rcnn_agent-swin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/agent_swin_s_max_acc.pth')))
