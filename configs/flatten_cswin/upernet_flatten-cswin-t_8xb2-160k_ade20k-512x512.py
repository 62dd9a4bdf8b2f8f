# FLatten-CSwin-T + UperNet, ADE20K 160k. No official downstream config or result exists: mmagent adopts CSWin's
# UperNet recipe (configs/_base_/recipes/upernet_cswin_160k.py) with its drop path (0.3),
# ImageNet models (3-4-7-7) and the FLatten weight-decay rule.
_base_ = ['../_base_/recipes/upernet_cswin_160k.py', '../_base_/no_decay/flatten.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='FLattenCSwinTransformer',
        arch='t',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_cswin_t.pth')))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
