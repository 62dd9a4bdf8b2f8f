# Demo: RetinaNet with Agent-PVT-T on the generated shapes dataset (data and schedule:
# configs/_base_/demo/coco_shapes.py), box metrics only; narrow neck and head for the CPU.
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py', '../_base_/demo/coco_shapes.py', '../_base_/runtime/mmagent.py']

fpn_channels = 128

model = dict(
    backbone=dict(
        _delete_=True, type='AgentPVT', arch='t', agent_shapes=(7, 7, 7, 7), drop_path_rate=0.0, init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512], out_channels=fpn_channels),
    bbox_head=dict(num_classes=4, in_channels=fpn_channels, feat_channels=fpn_channels),
    test_cfg=dict(nms_pre=500, max_per_img=50))

val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
