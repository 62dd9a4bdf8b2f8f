# FLatten-Swin-S + UperNet, ADE20K 160k (paper: 48.14 mIoU; recipe adopted by mmagent, see the T config).
_base_ = './upernet_flatten-swin-t_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='s', init_cfg=dict(checkpoint='checkpoints/flatten_swin_s.pth')))
