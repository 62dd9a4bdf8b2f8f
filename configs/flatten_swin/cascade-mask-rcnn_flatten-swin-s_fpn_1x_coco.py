# FLatten-Swin-S + Cascade Mask R-CNN, 1x: mmagent baseline, no published counterpart (the paper reports 3x).
_base_ = './cascade-mask-rcnn_flatten-swin-t_fpn_1x_coco.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/flatten_swin_s.pth')))
