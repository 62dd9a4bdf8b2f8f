# The LaViT-T backbone block of every LaViT config (mmagent's interpretation of LaViT, configs/lavit/README.md).
# No LaViT ImageNet weights exist (no official release, none from mmagent): with init_cfg=None the backbone
# trains from scratch. For results worth comparing, pretrain LaViTClassifier on ImageNet-1K and set e.g.
# init_cfg=dict(type='Pretrained', checkpoint='checkpoints/lavit_t_in1k.pth') (head.* is dropped).
# loss_dp (λ = 0.1, unvalidated) reaches the detector's / segmentor's losses through AuxLossWrapper.
lavit_backbone = dict(
    _delete_=True,
    type='LaViT',
    arch='t',
    drop_path_rate=0.1,
    dp_cfg=dict(loss_weight=0.1),
    out_indices=(0, 1, 2, 3),
    init_cfg=None)
