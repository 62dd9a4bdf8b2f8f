# LaViT-S + RetinaNet, COCO ms-3x: the LaViT-T RetinaNet recipe with the S widths and drop path 0.2.
# mmagent interpretation of LaViT. Published counterpart, second-hand: LaViT-S RetinaNet in configs/lavit/README.md.
_base_ = './retinanet_lavit-t_fpn_ms-3x_coco.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.2), neck=dict(in_channels=[64, 128, 320, 512]))
