# Agent-CSwin-S on ImageNet-1k at 224 (evaluation and official training recipe; see the
# T config).
_base_ = ['./agent-cswin-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='s', drop_path_rate=0.4), head=dict(in_channels=512))
