# LaViT-T + UperNet, ADE20K 160k, 512x512 crops. mmagent interpretation of LaViT; no published LaViT-T
# UperNet result exists. Recipe: mmseg's Swin UperNet recipe that mmagent uses for the PVT family
# (agent_attention.md §8.3: AdamW 6e-5, weight decay 0.01, 1500-iteration warmup, poly, batch 16), with no
# weight decay on position embeddings, norms and Θ/Ψ/RAD, and loss_dp (λ = 0.1, unvalidated) added to the
# segmentor's losses by AuxLossWrapper.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)

model = dict(
    type='AuxLossWrapper',  # EncoderDecoder whose loss() also returns the backbone's loss_dp
    model_type='EncoderDecoder',
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
    decode_head=dict(in_channels=[64, 128, 256, 448], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'attn.theta': dict(decay_mult=0.),
            'attn.psi': dict(decay_mult=0.),
            'backbone.rad': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(enable=False, base_batch_size=16)
