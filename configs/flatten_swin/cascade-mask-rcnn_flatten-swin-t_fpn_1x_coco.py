# FLatten-Swin-T + Cascade Mask R-CNN, 1x: mmagent baseline, no published counterpart (the FLatten paper reports
# 3x). No FLatten recipe was published: the Swin cascade recipe (configs/_base_/recipes/cascade-mask-rcnn_swin_1x.py:
# 4conv1fc SyncBN heads, GIoU, multi-scale + crop, AdamW lr 1e-4, wd 0.05), drop path 0.2 as the other
# FLatten-Swin-T configs, the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/cascade-mask-rcnn_swin_1x.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_swin_t.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
