# Demo: Cascade Mask R-CNN with Agent-Swin-T on the generated shapes dataset (data and schedule:
# configs/_base_/demo/coco_shapes.py), with the cascade heads of the Swin recipe (4conv1fc, SyncBN -> BN in a
# single process, GIoU on decoded boxes) narrowed for the CPU.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../_base_/demo/coco_shapes.py',
    '../_base_/runtime/mmagent.py',
]

num_classes = 4
fpn_channels = 128

model = dict(
    backbone=dict(
        _delete_=True, type='AgentSwinTransformer', arch='t', agent_shapes=(7, 7, 7, 7), drop_path_rate=0.0,
        init_cfg=None),
    neck=dict(in_channels=[96, 192, 384, 768], out_channels=fpn_channels),
    rpn_head=dict(in_channels=fpn_channels, feat_channels=fpn_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(type='SeparableRoIExtractor', out_channels=fpn_channels),  # see the Mask R-CNN demo
        bbox_head=[
            dict(
                type='ConvFCBBoxHead',
                num_shared_convs=4,
                num_shared_fcs=1,
                in_channels=fpn_channels,
                conv_out_channels=fpn_channels,
                fc_out_channels=512,
                roi_feat_size=7,
                num_classes=num_classes,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=stds),
                reg_class_agnostic=False,
                reg_decoded_bbox=True,
                norm_cfg=dict(type='SyncBN', requires_grad=True),
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=10.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067])
        ],
        mask_roi_extractor=dict(type='SeparableRoIExtractor', out_channels=fpn_channels),
        mask_head=dict(num_convs=2, in_channels=fpn_channels, conv_out_channels=fpn_channels,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=50)))
