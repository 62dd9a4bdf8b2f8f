# Agent-Swin-S + Mask R-CNN, 3x (official agent_swin_s_mrcnn_3x_9-12-14-7.py).
_base_ = './mask-rcnn_agent-swin-t_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/agent_swin_s_max_acc.pth')))
