# The official 224 -> 384 fine-tuning schedules (batch 8 x 32; lr per 512 images scaled linearly), as variables
# a fine-tuning config picks by name. Swin family: 30 epochs, 5 warmup, lr 2e-5, cosine to 2e-7, weight decay
# 1e-8. CSwin family: 20 epochs, no warmup, lr 5e-6, cosine to 5e-7 over 10 epochs then 10 cool-down epochs,
# weight decay 1e-8, drop path 0.7.
finetune_384_swin = dict(
    optimizer=dict(lr=2e-5 * 256 / 512, weight_decay=1e-8),
    param_scheduler=[
        dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', eta_min=2e-7 * 256 / 512, by_epoch=True, begin=5, end=30,
             convert_to_iter_based=True),
    ],
    max_epochs=30)
finetune_384_cswin = dict(
    optimizer=dict(lr=5e-6 * 256 / 512, weight_decay=1e-8),
    param_scheduler=[
        dict(type='CosineAnnealingLR', eta_min=5e-7 * 256 / 512, by_epoch=True, begin=0, end=10,
             convert_to_iter_based=True),
    ],
    max_epochs=20)
