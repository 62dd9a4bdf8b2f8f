# The PVT / PVTv2 RetinaNet 1x recipe (whai362/PVT detection configs): mmdet's RetinaNet R50-FPN 1x
# (single-scale 1333x800, flip 0.5), AdamW lr 1e-4, weight decay 1e-4, 12 epochs, total batch 16. mmdet's base
# neck starts at level 1 with extra convs on the input: P3-P7 from stages 2-4.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../runtime/mmagent.py'
]

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
