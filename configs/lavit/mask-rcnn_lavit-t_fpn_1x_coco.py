# LaViT-T + Mask R-CNN, COCO 1x. LaViT here is mmagent's INTERPRETATION of the paper (configs/lavit/README.md);
# no published LaViT Mask R-CNN result exists. Recipe: the PVT-family Mask R-CNN recipe mmagent uses
# (agent_attention.md §8.2): mmdet's Mask R-CNN R50-FPN 1x (single-scale 1333x800, flip 0.5), AdamW lr 2e-4,
# weight decay 1e-4, total batch 16. mmagent additions: no weight decay on position embeddings, norms and the
# identity/average-initialised attention-reuse transforms (Θ, Ψ, RAD), and loss_dp (λ = 0.1, unvalidated)
# added to the detector's losses by AuxLossWrapper.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='AuxLossWrapper',  # MaskRCNN whose loss() also returns the backbone's loss_dp
    model_type='MaskRCNN',
    backbone=dict(
        _delete_=True,
        type='LaViT',
        arch='t',
        drop_path_rate=0.1,
        loss_dp_weight=0.1,
        out_indices=(0, 1, 2, 3),
        # No LaViT ImageNet weights exist (no official release, none from mmagent). For results worth
        # comparing, pretrain LaViTClassifier on ImageNet-1K yourself and point to that file, e.g.
        # init_cfg=dict(type='Pretrained', checkpoint='checkpoints/lavit_t_in1k.pth') (head.* is dropped).
        # With None the backbone trains from scratch.
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 448]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.0001),
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'attn.theta': dict(decay_mult=0.),
            'attn.psi': dict(decay_mult=0.),
            'backbone.rad': dict(decay_mult=0.),
        }))
# 8 GPUs x 2 images; enable with tools/train.py --auto-scale-lr when training with another total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
