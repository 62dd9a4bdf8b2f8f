# LaViT-S + UperNet, ADE20K 160k: the LaViT-T recipe with the S widths and drop path 0.2. Published
# counterpart (second-hand, configs/lavit/README.md): LaViT-S UperNet 47.2 mIoU (ms 49.5); this is mmagent's
# interpretation of LaViT, never a reproduction of that number.
_base_ = './upernet_lavit-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='s', drop_path_rate=0.2),
    decode_head=dict(in_channels=[64, 128, 320, 512]),
    auxiliary_head=dict(in_channels=320))
