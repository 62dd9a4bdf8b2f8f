# FLatten-CSwin-B fine-tuned from the 224 checkpoint to 384 images (set load_from to the official or an mmagent 224
# checkpoint; official files load as released). Unlike the official 384 models, the 224 geometry is kept and its
# position parameters are resized at run time (as in detection and segmentation), so any 224 checkpoint loads
# unchanged; evaluate the result with this config, not with the flatten-cswin-b_in1k-384px one.
_base_ = ['./flatten-cswin-b_8xb128_in1k.py']

load_from = 'checkpoints/flatten_cswin_b.pth'
img_size = 384
bgr_mean = [103.53, 116.28, 123.675]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10, magnitude_level=9,
         magnitude_std=0.5, hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02, max_area_ratio=1 / 3,
         fill_color=bgr_mean, fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
# TEST.CROP False in the official config: the whole image resized to img_size x img_size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = val_dataloader
# Official 384 fine-tuning: 20 epochs, no warmup, lr 5e-6 per 512 images (2.5e-6 at 8 x 32), weight decay 1e-8,
# 10 of them cooling down at 5e-7 per 512, drop path 0.7.
optim_wrapper = dict(optimizer=dict(lr=5e-6 * 256 / 512, weight_decay=1e-8))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=5e-7 * 256 / 512, by_epoch=True, begin=0, end=10,
                        convert_to_iter_based=True)]
train_cfg = dict(max_epochs=20)
model = dict(backbone=dict(drop_path_rate=0.7))
auto_scale_lr = dict(base_batch_size=256)
