# FLatten-Swin-T + UperNet, ADE20K 160k. No published recipe: mmagent adopts mmseg's Swin UperNet one
# (AdamW 6e-5, wd 0.01, 1500-iteration warmup, poly, 512x512 crops, batch 16), drop path 0.3.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', '../_base_/no_decay/flatten.py',
    '../_base_/runtime/mmagent.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='t',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_swin_t.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))

# No weight decay: the FLatten family rule (configs/_base_/no_decay/flatten.py).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
