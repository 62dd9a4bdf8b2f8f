# LaViT-T + Semantic FPN, ADE20K 40k: mmagent interpretation of LaViT, no published LaViT-T counterpart. Recipe:
# the PVT Semantic FPN one (configs/_base_/recipes/fpn_pvt_40k.py: AdamW lr 2e-4, wd 1e-4, poly 0.9 over 40k
# iterations, batch 16), with the LaViT weight-decay rule and loss_dp added to the segmentor's losses.
_base_ = ['../_base_/recipes/fpn_pvt_40k.py', '../_base_/models/lavit-t.py', '../_base_/no_decay/lavit.py']

model = dict(
    type='AuxLossWrapper',  # EncoderDecoder whose loss() also returns the backbone's loss_dp
    model_type='EncoderDecoder',
    backbone={{_base_.lavit_backbone}},
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
