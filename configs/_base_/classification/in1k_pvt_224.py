_base_ = ['in1k_swin_224.py']

# The official PVT / PVTv2 / CSwin-style schedule of the Agent and FLatten code bases (timm's cosine schedule
# with cool-down): warmup epochs W (5 here; the CSwin configs set 20), cosine from 1e-3 to 1e-5 until epoch 300,
# then 10 cool-down epochs at 1e-5 (310 in all); no gradient clipping unless a config sets it (the official
# M / L / B3 / B4 models clip at 1.0).
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=310)
optim_wrapper = dict(clip_grad=None)
