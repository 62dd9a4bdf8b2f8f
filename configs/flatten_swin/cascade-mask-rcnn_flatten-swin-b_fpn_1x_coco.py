# FLatten-Swin-B + Cascade Mask R-CNN, 1x: mmagent baseline, no published counterpart.
_base_ = './cascade-mask-rcnn_flatten-swin-t_fpn_1x_coco.py'

model = dict(
    backbone=dict(arch='b', init_cfg=dict(checkpoint='checkpoints/flatten_swin_b.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
