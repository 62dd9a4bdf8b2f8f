# ImageNet-1k at 224 for every mmagent classifier: mmpretrain's Swin data pipeline and AdamW schedule, which
# are the official Agent / FLatten training settings (both code bases derive from Swin's): RandomResizedCrop
# 224 (bicubic), flip, RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25, Mixup 0.8 / CutMix 1.0 (switch
# 0.5), label smoothing 0.1; test: resize the short edge to 256, centre crop 224 (ratio 0.875, bicubic).
# AdamW, lr 5e-4 per 512 images (1e-3 at the total batch of 8 x 128 = 1024), weight decay 0.05, no decay on
# norms, biases and 1-D parameters, 20 warmup epochs from lr 1e-6, cosine to 1e-5 over 300 epochs, gradient
# norm clipped at 5. No EMA (neither official code base uses one). The family configs adjust what differs.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py',
    'mmpretrain::_base_/schedules/imagenet_bs1024_adamw_swin.py',
    'mmpretrain::_base_/default_runtime.py',
    '../runtime/mmagent.py',
]

# The official classification form of every family: the last stage's map (after the family's final norm,
# which is the backbone's last output norm), mean over tokens, Linear classifier
# (mmagent/models/classification.py). Family configs set the backbone type / arch and the head's in_channels.
model = dict(
    type='ImageClassifier',
    backbone=dict(out_indices=(3, ), init_cfg=None),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        cal_acc=False,
        topk=(1, 5),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=.02, bias=0.)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
optim_wrapper = dict(clip_grad=dict(max_norm=5.0))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=3, save_best='auto'))
