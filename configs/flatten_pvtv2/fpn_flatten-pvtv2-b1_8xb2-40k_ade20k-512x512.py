# FLatten-PVTv2-B1 + Semantic FPN, ADE20K 40k: no published counterpart. The PVT / PVTv2 Semantic FPN recipe
# (configs/_base_/recipes/fpn_pvt_40k.py: AdamW lr 2e-4, wd 1e-4, poly over 40k iterations, batch 16), drop
# path 0.1, with the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/fpn_pvt_40k.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True, type='FLattenPVTv2', arch='b1', drop_path_rate=0.1, out_indices=(0, 1, 2, 3), init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
