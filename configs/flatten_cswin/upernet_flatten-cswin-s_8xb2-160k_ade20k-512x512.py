# FLatten-CSwin-S + UperNet, ADE20K 160k: the T recipe with CSWin-S's drop path 0.4 (no published
# counterpart). No FLatten-CSwin-S ImageNet weights are released: it trains from scratch unless init_cfg points to
# a classification checkpoint of your own.
_base_ = './upernet_flatten-cswin-t_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.4, init_cfg=None))
