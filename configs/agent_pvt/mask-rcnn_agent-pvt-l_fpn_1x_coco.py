# Agent-PVT-L + Mask R-CNN, 1x (official agent_pvt_l_mrcnn_1x_12-16-28-28.py, drop path 0.2).
_base_ = './mask-rcnn_agent-pvt-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='l', drop_path_rate=0.2, init_cfg=dict(checkpoint='checkpoints/agent_pvt_l_max_acc.pth')))
