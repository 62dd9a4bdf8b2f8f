# FLatten-PVTv2-B4 on ImageNet-1k at 224 (evaluation and official training recipe; see the
# B0 config).
_base_ = ['./flatten-pvtv2-b0_8xb128_in1k.py']

model = dict(backbone=dict(arch='b4', drop_path_rate=0.3), head=dict(in_channels=512))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))  # as the official config of this size
