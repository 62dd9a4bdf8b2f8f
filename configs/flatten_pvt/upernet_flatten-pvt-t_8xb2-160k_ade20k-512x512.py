# FLatten-PVT-T + UperNet, ADE20K 160k: mmagent baseline, no published counterpart (the paper reports Semantic
# FPN). mmseg's Swin UperNet recipe (AdamW 6e-5, wd 0.01, 1500-iteration warmup, poly), drop path 0.3.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', '../_base_/no_decay/flatten.py',
    '../_base_/runtime/mmagent.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenPVT',
        arch='t',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_pvt_t.pth')),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))

# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
