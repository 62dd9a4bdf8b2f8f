# Agent-PVT-L + Mask R-CNN, multi-scale 3x: mmagent baseline, no published counterpart.
_base_ = './mask-rcnn_agent-pvt-t_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        arch='l', drop_path_rate=0.2, init_cfg=dict(checkpoint='checkpoints/agent_pvt_l_max_acc.pth')))
