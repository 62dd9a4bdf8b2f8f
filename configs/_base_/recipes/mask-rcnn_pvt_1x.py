# The PVT / PVTv2 Mask R-CNN 1x recipe (whai362/PVT detection configs, also the official Agent-PVT one): mmdet's
# Mask R-CNN R50-FPN 1x (single-scale 1333x800, flip 0.5), AdamW lr 2e-4, weight decay 1e-4, 12 epochs, total
# batch 16. A config on it replaces model.backbone (with _delete_=True) and the neck's in_channels.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../runtime/mmagent.py'
]

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
