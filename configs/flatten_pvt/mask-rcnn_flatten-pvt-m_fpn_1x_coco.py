# FLatten-PVT-M + Mask R-CNN, 1x: mmagent baseline, no published counterpart (no released weights
# for this size either: train the ImageNet model first, see README.md).
_base_ = './mask-rcnn_flatten-pvt-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='m', init_cfg=dict(checkpoint='checkpoints/flatten_pvt_m.pth')))
