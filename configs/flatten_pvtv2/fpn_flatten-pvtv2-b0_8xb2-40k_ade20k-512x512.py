# FLatten-PVTv2-B0 + Semantic FPN, ADE20K 40k: the B1 recipe with the released ImageNet checkpoint (converted on load).
_base_ = './fpn_flatten-pvtv2-b1_8xb2-40k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='b0', init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='checkpoints/flatten_pvt_v2_b0.pth')),
    neck=dict(in_channels=[32, 64, 160, 256]))
