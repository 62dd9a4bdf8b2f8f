# FLatten-PVT-L + UperNet, ADE20K 160k: mmagent baseline, no published counterpart.
_base_ = './upernet_flatten-pvt-t_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='l', init_cfg=dict(checkpoint='checkpoints/flatten_pvt_l.pth')))
