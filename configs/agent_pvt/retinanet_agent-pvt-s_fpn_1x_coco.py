# Agent-PVT-S + RetinaNet, 1x (official agent_pvt_s_rtn_1x_12-16-28-28.py, drop path 0.1).
_base_ = './retinanet_agent-pvt-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='s', drop_path_rate=0.1, init_cfg=dict(checkpoint='checkpoints/agent_pvt_s_max_acc.pth')))
