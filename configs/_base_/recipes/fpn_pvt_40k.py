# The PVT / PVTv2 Semantic FPN recipe (whai362/PVT segmentation configs, also the official Agent-PVT
# fpn_agent_pvt_*_12-16-28-28.py): mmseg's Semantic FPN on ADE20K 512x512 crops, AdamW lr 2e-4, weight decay
# 1e-4, poly (power 0.9, min 0) over 40k iterations, batch 16 (8 GPUs x 2). A config on it replaces
# model.backbone (with _delete_=True) and the neck's in_channels.
_base_ = ['mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py', '../runtime/mmagent.py']

model = dict(pretrained=None)
train_dataloader = dict(batch_size=2)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=4000))
auto_scale_lr = dict(enable=False, base_batch_size=16)
