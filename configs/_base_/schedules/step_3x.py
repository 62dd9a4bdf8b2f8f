# The 3x step schedule of the detection configs (36 epochs, 500-iteration linear warm-up, x0.1 at epochs 27
# and 33) and the multi-scale training pipelines (shorter side 640-800) that the single-scale PVT-family 1x
# recipes switch to for 3x. A 3x config inherits its 1x config and this file and sets
#   train_cfg = dict(max_epochs={{_base_.max_epochs_3x}})
#   param_scheduler = {{_base_.param_scheduler_3x}}
# and, for the PVT-family recipes, train_dataloader = dict(dataset=dict(pipeline={{_base_.ms_instance_pipeline}}))
# (ms_detection_pipeline for box-only detectors).
max_epochs_3x = 36
param_scheduler_3x = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1)
]
ms_instance_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
ms_detection_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
