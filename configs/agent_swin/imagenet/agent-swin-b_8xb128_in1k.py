# Agent-Swin-B on ImageNet-1k at 224 (evaluation and official training recipe; see the
# T config).
_base_ = ['./agent-swin-t_8xb128_in1k.py']

model = dict(backbone=dict(arch='b', drop_path_rate=0.5), head=dict(in_channels=1024))
