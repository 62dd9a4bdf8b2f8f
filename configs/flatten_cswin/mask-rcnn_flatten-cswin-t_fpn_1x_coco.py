# FLatten-CSwin-T + Mask R-CNN, 1x. No official downstream config or result exists: mmagent adopts CSWin's
# detection recipe (configs/_base_/recipes/mask-rcnn_cswin_1x.py: Swin's, AdamW 1e-4, wd 0.05, multi-scale +
# crop), drop path 0.2 (Swin-T's) and the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/mask-rcnn_cswin_1x.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenCSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # ImageNet checkpoint as released (see configs/flatten_cswin/README.md); converted on load.
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_cswin_t.pth')))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
