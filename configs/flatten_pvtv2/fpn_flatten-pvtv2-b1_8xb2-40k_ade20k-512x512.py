# FLatten-PVTv2-B1 + Semantic FPN, ADE20K 40k: no published counterpart. The PVT / PVTv2 Semantic FPN recipe
# (whai362/PVT segmentation configs): mmseg's FPN head, 512x512 crops, AdamW lr 2e-4, weight decay 1e-4, poly
# (power 0.9, min 0) over 40k iterations, batch 16 (8 GPUs x 2), drop path 0.1, with the FLatten decay rule.
_base_ = ['mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py', '../_base_/no_decay/flatten.py']
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='FLattenPVTv2', arch='b1', drop_path_rate=0.1, out_indices=(0, 1, 2, 3), init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512]))

train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
auto_scale_lr = dict(enable=False, base_batch_size=16)
