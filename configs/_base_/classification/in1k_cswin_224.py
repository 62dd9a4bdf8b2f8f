# The official CSwin-family schedule of the Agent / FLatten code bases: as PVT's (cosine to epoch 300 and 10
# cool-down epochs, no clipping) but with 20 warmup epochs.
_base_ = ['in1k_pvt_224.py']

warmup_epochs = 20
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs, end=300,
         convert_to_iter_based=True),
]
