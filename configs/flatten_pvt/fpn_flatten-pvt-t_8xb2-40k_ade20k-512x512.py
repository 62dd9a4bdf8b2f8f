# FLatten-PVT-T + Semantic FPN, ADE20K 40k (FLatten paper, Table 1: 37.21 mIoU, 16 M, 169 G). No published
# recipe: the PVT Semantic FPN one (configs/_base_/recipes/fpn_pvt_40k.py: AdamW lr 2e-4, wd 1e-4, poly 0.9 over
# 40k iterations, batch 16), drop path 0.2 as the other FLatten-PVT configs, the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/fpn_pvt_40k.py', '../_base_/no_decay/flatten.py', '../_base_/models/flatten-pvt-t.py']

model = dict(
    backbone={{_base_.flatten_pvt_backbone}},
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
