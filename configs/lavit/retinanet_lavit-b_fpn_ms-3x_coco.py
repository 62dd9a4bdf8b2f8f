# LaViT-B + RetinaNet, COCO ms-3x: the LaViT-T RetinaNet recipe with the B widths and drop path 0.3.
# mmagent interpretation of LaViT; no published LaViT-B COCO result exists.
_base_ = './retinanet_lavit-t_fpn_ms-3x_coco.py'

model = dict(backbone=dict(arch='b', drop_path_rate=0.3), neck=dict(in_channels=[64, 128, 320, 640]))
