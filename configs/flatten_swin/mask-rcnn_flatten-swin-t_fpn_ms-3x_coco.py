# FLatten-Swin-T + Mask R-CNN, 3x: the 1x recipe for 36 epochs (steps at 27 and 33).
_base_ = './mask-rcnn_flatten-swin-t_fpn_1x_coco.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
