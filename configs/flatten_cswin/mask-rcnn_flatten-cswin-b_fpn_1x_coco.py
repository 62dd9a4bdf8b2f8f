# FLatten-CSwin-B + Mask R-CNN, 1x: the T recipe with drop path 0.3 (mmagent baseline, no published
# counterpart). No FLatten-CSwin-B ImageNet weights are released: it trains from scratch unless init_cfg points to
# a classification checkpoint of your own.
_base_ = './mask-rcnn_flatten-cswin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3, init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768]))
