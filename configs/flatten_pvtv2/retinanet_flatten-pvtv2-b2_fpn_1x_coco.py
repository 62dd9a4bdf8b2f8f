# FLatten-PVTv2-B2 + RetinaNet, 1x: the B1 recipe;
# no published counterpart, no released weights (trains from scratch).
_base_ = './retinanet_flatten-pvtv2-b1_fpn_1x_coco.py'

model = dict(backbone=dict(arch='b2'))
