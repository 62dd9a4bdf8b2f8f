# LaViT-B + Mask R-CNN, COCO ms-3x: the LaViT-T recipe with the B widths and drop path 0.3.
# mmagent interpretation of LaViT; no published counterpart.
_base_ = './mask-rcnn_lavit-t_fpn_ms-3x_coco.py'

model = dict(backbone=dict(arch='b', drop_path_rate=0.3), neck=dict(in_channels=[64, 128, 320, 640]))
