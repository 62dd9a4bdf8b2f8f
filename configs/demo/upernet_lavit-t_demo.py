# Demo: UperNet with LaViT-T (mmagent interpretation) on the generated shapes dataset in ADE20K layout; the
# Agent-PVT-T demo recipe with the backbone swapped. AuxLossWrapper adds the backbone's loss_dp to the
# segmentor's losses, so it is optimised and shows up in the training log.
_base_ = './upernet_agent-pvt-t_demo.py'

model = dict(
    type='AuxLossWrapper',
    model_type='EncoderDecoder',
    backbone=dict(_delete_=True, type='LaViT', arch='t', drop_path_rate=0.0, dp_cfg=dict(loss_weight=0.1), init_cfg=None),
    decode_head=dict(in_channels=[64, 128, 256, 448]),
    auxiliary_head=dict(in_channels=256))
