# LaViT-T ImageNet-1k pretraining (mmagent's interpretation of LaViT, configs/lavit/README.md). No LaViT recipe
# is published first-hand: this is the recipe that the second-hand LaViT sources (ImageNet-1k only, 224, AdamW)
# and PVTv2's official one (which LaViT's sizes follow) agree on: 300 epochs + 10 cool-down, batch 8 x 128,
# AdamW lr 1e-3, weight decay 0.05, 5 warmup epochs, cosine to 1e-5, RandAugment, Mixup 0.8 / CutMix 1.0,
# label smoothing 0.1, random erasing 0.25, drop path 0.1 (T/S) / 0.3 (B), no EMA. The checkpoint it writes
# is what the LaViT detection and segmentation configs take as init_cfg (prefix='backbone.').
# loss_dp (λ = 0.1) of the backbone joins the classification loss through AuxLossWrapper.
_base_ = [
    '../../_base_/classification/in1k_pvt_224.py',
    '../../_base_/no_decay/lavit.py',
]

model = dict(
    type='AuxLossWrapper',
    model_type='ImageClassifier',
    backbone=dict(type='LaViT', arch='t', drop_path_rate=0.1, dp_cfg=dict(loss_weight=0.1)),
    head=dict(in_channels=448))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
