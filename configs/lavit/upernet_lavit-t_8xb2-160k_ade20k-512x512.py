# LaViT-T + UperNet, ADE20K 160k, 512x512 crops. mmagent interpretation of LaViT; no published LaViT-T
# UperNet result exists. Recipe: mmseg's Swin UperNet recipe that mmagent uses for the PVT family (AdamW 6e-5,
# weight decay 0.01, 1500-iteration warmup, poly, batch 16), with the LaViT weight-decay rule and loss_dp
# added to the segmentor's losses by AuxLossWrapper.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    '../_base_/models/lavit-t.py',
    '../_base_/no_decay/lavit.py',
    '../_base_/runtime/mmagent.py'
]

model = dict(
    type='AuxLossWrapper',  # EncoderDecoder whose loss() also returns the backbone's loss_dp
    model_type='EncoderDecoder',
    backbone={{_base_.lavit_backbone}},
    decode_head=dict(in_channels=[64, 128, 256, 448], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
auto_scale_lr = dict(enable=False, base_batch_size=16)
