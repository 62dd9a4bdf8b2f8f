# Agent-PVT-L + RetinaNet, 1x (official agent_pvt_l_rtn_1x_12-16-28-28.py, drop path 0.3).
_base_ = './retinanet_agent-pvt-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='l', drop_path_rate=0.3, init_cfg=dict(checkpoint='checkpoints/agent_pvt_l_max_acc.pth')))
