# FLatten-CSwin-B on ImageNet-1k at 224 (evaluation and official training recipe; see the
# T config).
_base_ = ['./flatten-cswin-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.5), head=dict(in_channels=768))
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))  # as the official config of this size
