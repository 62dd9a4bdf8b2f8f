# FLatten-CSwin-S + Mask R-CNN, 1x: the T recipe with drop path 0.3 (mmagent baseline, no published
# counterpart). No FLatten-CSwin-S ImageNet weights are released: it trains from scratch unless init_cfg points to
# a classification checkpoint of your own.
_base_ = './mask-rcnn_flatten-cswin-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.3, init_cfg=None))
