# Demo: Mask R-CNN with LaViT-T (mmagent interpretation) on the generated shapes dataset, from scratch on the
# CPU; the Agent-PVT-T demo recipe with the backbone swapped. AuxLossWrapper adds the backbone's loss_dp to the
# detector's losses, so it is optimised and shows up in the training log.
_base_ = './mask-rcnn_agent-pvt-t_fpn_demo.py'

model = dict(
    type='AuxLossWrapper',
    model_type='MaskRCNN',
    backbone=dict(_delete_=True, type='LaViT', arch='t', drop_path_rate=0.0, dp_cfg=dict(loss_weight=0.1), init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 448]))
