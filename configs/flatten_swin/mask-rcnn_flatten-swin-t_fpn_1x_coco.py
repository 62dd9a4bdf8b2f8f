# FLatten-Swin-T + Mask R-CNN, 1x. The FLatten paper publishes no recipe and there is no official downstream
# code: mmagent adopts the Swin / Agent-Swin one (spec flatten_attention.md §8.3): mmdet's Swin multi-scale +
# crop pipeline, AdamW lr 1e-4, wd 0.05, 500-iteration warmup, 12 epochs, batch 16, drop path 0.2.
_base_ = 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # ImageNet checkpoint as released (see configs/flatten_swin/README.md); converted on load.
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_swin_t.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
# Project choice: besides Swin's keys, the focused-attention positional encodings and temperatures
# (attn.scale) are not decayed, as Agent's downstream configs do for their position biases.
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'positional_encoding': dict(decay_mult=0.),
            'attn.scale': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(enable=False, base_batch_size=16)
