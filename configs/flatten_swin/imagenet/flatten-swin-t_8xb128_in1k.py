# FLatten-Swin-T on ImageNet-1k at 224: the evaluation config of the released checkpoint
# (tools/test.py THIS_CONFIG official.pth loads the file as released) and the official 300-epoch
# training recipe (configs/_base_/classification/in1k_swin_224.py).
_base_ = [
    '../../_base_/classification/in1k_swin_224.py',
    '../../_base_/no_decay/flatten.py',
]

model = dict(
    backbone=dict(
        type='FLattenSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
    ),
    head=dict(in_channels=768))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
