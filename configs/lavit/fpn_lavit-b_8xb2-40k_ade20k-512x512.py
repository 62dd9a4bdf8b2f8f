# LaViT-B + Semantic FPN, ADE20K 40k: the LaViT-T recipe with the B widths and drop path 0.3. mmagent
# interpretation of LaViT, no published counterpart.
_base_ = './fpn_lavit-t_8xb2-40k_ade20k-512x512.py'

model = dict(backbone=dict(arch='b', drop_path_rate=0.3), neck=dict(in_channels=[64, 128, 320, 640]))
