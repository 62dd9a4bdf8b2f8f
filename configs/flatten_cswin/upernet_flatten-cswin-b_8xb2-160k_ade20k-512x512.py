# FLatten-CSwin-B + UperNet, ADE20K 160k: the T recipe with CSWin-B's drop path 0.6 (no published
# counterpart). No FLatten-CSwin-B ImageNet weights are released: it trains from scratch unless init_cfg points to
# a classification checkpoint of your own.
_base_ = './upernet_flatten-cswin-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.6, init_cfg=None),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
