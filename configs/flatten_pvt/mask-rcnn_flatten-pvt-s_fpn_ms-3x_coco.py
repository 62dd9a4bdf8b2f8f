# FLatten-PVT-S + Mask R-CNN, ms-3x: mmagent baseline, no published counterpart (no released weights
# for this size either: train the ImageNet model first, see README.md).
_base_ = './mask-rcnn_flatten-pvt-t_fpn_ms-3x_coco.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/flatten_pvt_s.pth')))
