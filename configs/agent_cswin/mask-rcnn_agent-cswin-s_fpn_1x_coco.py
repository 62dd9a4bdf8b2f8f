# Agent-CSwin-S + Mask R-CNN, 1x: the T recipe with drop path 0.3 (mmagent baseline, no published counterpart).
_base_ = './mask-rcnn_agent-cswin-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.3, init_cfg=dict(checkpoint='checkpoints/agent_cswin_s.pth')))
