# Demo: Mask R-CNN with Agent-PVT-T, trained from scratch on the CPU on the generated shapes dataset
# (python tools/make_demo_data.py; data and schedule: configs/_base_/demo/coco_shapes.py). Small images, a
# narrower FPN and fewer RoIs keep it to minutes; the backbone is the real Agent-PVT-T architecture.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py', '../_base_/demo/coco_shapes.py', '../_base_/runtime/mmagent.py']

num_classes = 4
fpn_channels = 128

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentPVT',
        arch='t',
        agent_shapes=(7, 7, 7, 7),
        drop_path_rate=0.0,
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 320, 512], out_channels=fpn_channels),
    rpn_head=dict(in_channels=fpn_channels, feat_channels=fpn_channels),
    roi_head=dict(
        # mmdet's RoI extractor, with RoIAlign as two matrix products on these small maps (same values as
        # mmcv's single-threaded CPU kernel, several times faster: mmagent/models/roi/separable_roi_align.py)
        bbox_roi_extractor=dict(type='SeparableRoIExtractor', out_channels=fpn_channels),
        bbox_head=dict(in_channels=fpn_channels, fc_out_channels=512, num_classes=num_classes),
        mask_roi_extractor=dict(type='SeparableRoIExtractor', out_channels=fpn_channels),
        mask_head=dict(num_convs=2, in_channels=fpn_channels, conv_out_channels=fpn_channels,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),  # 2-5 objects per image: 64 RoIs (16 positive) suffice
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=50)))
