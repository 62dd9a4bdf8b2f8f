# LaViT-S + Semantic FPN, ADE20K 40k: the LaViT-T recipe with the S widths and drop path 0.2. Published
# counterpart, second-hand (configs/lavit/README.md): LaViT-S Semantic FPN 44.1 mIoU, 122 G; this is mmagent's
# interpretation of LaViT, never a reproduction of that number.
_base_ = './fpn_lavit-t_8xb2-40k_ade20k-512x512.py'

model = dict(backbone=dict(arch='s', drop_path_rate=0.2), neck=dict(in_channels=[64, 128, 320, 512]))
