# LaViT-S ImageNet-1k pretraining (the recipe of the T config).
_base_ = ['./lavit-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='s'), head=dict(in_channels=512))
