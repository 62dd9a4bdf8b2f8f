# FLatten-PVT-M + Semantic FPN, ADE20K 40k: mmagent baseline, no published counterpart (no released weights
# for this size: train the ImageNet model first, see README.md).
_base_ = './fpn_flatten-pvt-t_8xb2-40k_ade20k-512x512.py'

model = dict(backbone=dict(arch='m', init_cfg=dict(checkpoint='checkpoints/flatten_pvt_m.pth')))
