# FLatten-PVTv2-B0 + RetinaNet, 1x: the B1 recipe with the released ImageNet checkpoint (converted on load).
_base_ = './retinanet_flatten-pvtv2-b1_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='b0', init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='checkpoints/flatten_pvt_v2_b0.pth')),
    neck=dict(in_channels=[32, 64, 160, 256]))
