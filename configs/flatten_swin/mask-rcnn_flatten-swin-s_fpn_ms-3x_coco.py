# FLatten-Swin-S + Mask R-CNN, ms-3x: mmagent baseline, no published counterpart (the paper reports
# FLatten-Swin-S with Cascade Mask R-CNN only).
_base_ = './mask-rcnn_flatten-swin-t_fpn_ms-3x_coco.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/flatten_swin_s.pth')))
