# LaViT-B ImageNet-1k pretraining (the recipe of the T config, drop path 0.3 as PVTv2's larger sizes).
_base_ = ['./lavit-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.3), head=dict(in_channels=640))
