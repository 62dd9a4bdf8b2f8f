# LaViT-B + UperNet, ADE20K 160k: the LaViT-T recipe with the B widths and drop path 0.3. mmagent
# interpretation of LaViT; no published LaViT-B UperNet result exists.
_base_ = './upernet_lavit-t_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(arch='b', drop_path_rate=0.3),
    decode_head=dict(in_channels=[64, 128, 320, 640]),
    auxiliary_head=dict(in_channels=320))
