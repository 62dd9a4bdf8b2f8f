# Agent-CSwin-B at 384: evaluation of the released 384 checkpoint, in its geometry (stripes 1-2-12-12 and position parameters sized for 384 (official la_split_size 96-48-24-12)); whole image resized
# to 384, no crop. tools/test.py THIS_CONFIG official_384.pth
_base_ = ['./agent-cswin-b_8xb128_in1k.py']

model = dict(backbone=dict(pretrain_img_size=384, split_sizes=(1, 2, 12, 12)))
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
