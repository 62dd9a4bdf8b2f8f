# Demo segmentor: UperNet with Agent-PVT-T on the generated shapes dataset in ADE20K layout
# (python tools/make_demo_data.py). Keeps mmseg's SyncBN heads: tools/train.py turns them into BN for a
# single-process run. Narrow heads and small crops keep it CPU-friendly.
_base_ = ['mmseg::_base_/models/upernet_swin.py', 'mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

data_root = 'data/demo/ade/'
metainfo = dict(
    classes=('background', 'rectangle', 'ellipse', 'triangle', 'star'),
    palette=[[0, 0, 0], [220, 20, 60], [0, 110, 255], [0, 170, 60], [250, 170, 30]])
num_classes = 5
crop_size = (160, 160)

model = dict(
    data_preprocessor=dict(size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='AgentPVT',
        arch='t',
        agent_shapes=(7, 7, 7, 7),
        drop_path_rate=0.0,
        init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=128, num_classes=num_classes),
    auxiliary_head=dict(in_channels=320, channels=64, num_classes=num_classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomResize', scale=(192, 192), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(192, 192), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs')
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, img_suffix='.jpg',
               seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-4, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'pos_embed': dict(decay_mult=0.), 'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50, end=max_iters)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
