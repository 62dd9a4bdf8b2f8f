# LaViT-T + RetinaNet, COCO 1x: the detector the LaViT paper reports (its numbers, results.md §3.2, are
# second-hand, and this is mmagent's INTERPRETATION of LaViT: never a reproduction). Recipe: the PVT RetinaNet
# recipe (agent_attention.md §8.2): mmdet's RetinaNet R50-FPN 1x (single-scale 1333x800, flip 0.5), AdamW
# lr 1e-4, weight decay 1e-4, total batch 16; no weight decay on position embeddings, norms and Θ/Ψ/RAD;
# loss_dp (λ = 0.1, unvalidated) added by AuxLossWrapper.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='AuxLossWrapper',  # RetinaNet whose loss() also returns the backbone's loss_dp
    model_type='RetinaNet',
    backbone=dict(
        _delete_=True,
        type='LaViT',
        arch='t',
        drop_path_rate=0.1,
        loss_dp_weight=0.1,
        out_indices=(0, 1, 2, 3),
        # No LaViT ImageNet weights exist. Pretrain LaViTClassifier on ImageNet-1K yourself and set e.g.
        # init_cfg=dict(type='Pretrained', checkpoint='checkpoints/lavit_t_in1k.pth'); None trains from scratch.
        init_cfg=None),
    # RetinaNet's base neck starts at level 1 with extra convs on the input: P3-P7 from stages 2-4.
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0001, weight_decay=0.0001),
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'attn.theta': dict(decay_mult=0.),
            'attn.psi': dict(decay_mult=0.),
            'backbone.rad': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(enable=False, base_batch_size=16)
