# The CSWin UperNet recipe (microsoft/CSWin-Transformer segmentation/configs/cswin), for Agent-CSwin and
# FLatten-CSwin: AdamW lr 6e-5, weight decay 0.01, 1500-iteration linear warm-up, poly (power 1.0) over 160k
# iterations, 512x512 ADE20K crops, batch 16 (8x2). These are exactly the settings of mmseg's Swin UperNet
# config, which this inherits. A config on it replaces model.backbone (with _delete_=True); the heads take the
# CSwin-T/S widths (CSwin-B: 96-192-384-768, auxiliary 384).
_base_ = ['mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', '../runtime/mmagent.py']

model = dict(
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))
auto_scale_lr = dict(enable=False, base_batch_size=16)
