# FLatten-PVTv2-B2 + Semantic FPN, ADE20K 40k: the B1 recipe;
# no published counterpart, no released weights (trains from scratch).
_base_ = './fpn_flatten-pvtv2-b1_8xb2-40k_ade20k-512x512.py'

model = dict(backbone=dict(arch='b2'))
