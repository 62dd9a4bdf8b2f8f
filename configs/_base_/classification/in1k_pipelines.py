# ImageNet pipelines at the other official resolutions, as variables a config picks by name (inherit this
# file beside its model config, then e.g. `train_dataloader = dict(dataset=dict(pipeline={{_base_.in1k_384.train}}))`).
# Training: the 224 recipe's augmentations at the new size. Test: `nocrop` (TEST.CROP False of the official
# 288 / 384 configs: the whole image resized to size x size) or a centre crop at ratio 0.875.


def _train(size):
    mean, std = [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]  # BGR
    return [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=size, backend='pillow', interpolation='bicubic'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10, magnitude_level=9,
             magnitude_std=0.5, hparams=dict(pad_val=[round(x) for x in mean], interpolation='bicubic')),
        dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02, max_area_ratio=1 / 3,
             fill_color=mean, fill_std=std),
        dict(type='PackInputs'),
    ]


def _test(size, crop):
    if not crop:
        resize = [dict(type='Resize', scale=(size, size), backend='pillow', interpolation='bicubic')]
    else:
        resize = [dict(type='ResizeEdge', scale=int(size / 0.875), edge='short', backend='pillow',
                       interpolation='bicubic'),
                  dict(type='CenterCrop', crop_size=size)]
    return [dict(type='LoadImageFromFile'), *resize, dict(type='PackInputs')]


in1k_288_nocrop = dict(train=_train(288), test=_test(288, crop=False))
in1k_384_nocrop = dict(train=_train(384), test=_test(384, crop=False))
in1k_256 = dict(train=_train(256), test=_test(256, crop=True))
