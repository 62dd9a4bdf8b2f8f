# FLatten-PVT-S + RetinaNet, 1x: mmagent baseline, no published counterpart (no released weights for this size:
# train the ImageNet model first, see README.md).
_base_ = './retinanet_flatten-pvt-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/flatten_pvt_s.pth')))
