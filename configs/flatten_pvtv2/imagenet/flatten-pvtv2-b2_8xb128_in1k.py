# FLatten-PVTv2-B2 on ImageNet-1k at 224 (evaluation and official training recipe; see the
# B0 config).
_base_ = ['./flatten-pvtv2-b0_8xb128_in1k.py']

model = dict(backbone=dict(arch='b2', drop_path_rate=0.1), head=dict(in_channels=512))
