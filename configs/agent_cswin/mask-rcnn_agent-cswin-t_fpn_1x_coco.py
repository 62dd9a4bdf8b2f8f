# Agent-CSwin-T + Mask R-CNN, 1x. No official downstream config or result exists: mmagent adopts CSWin's
# detection recipe (configs/_base_/recipes/mask-rcnn_cswin_1x.py: Swin's, AdamW 1e-4, wd 0.05, multi-scale +
# crop), drop path 0.2 (Swin-T's), the agent grids of the ImageNet models (3-4-7-7) and the Agent weight-decay rule.
_base_ = ['../_base_/recipes/mask-rcnn_cswin_1x.py', '../_base_/no_decay/agent.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentCSwinTransformer',
        arch='t',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        # ImageNet checkpoint as released (see configs/agent_cswin/README.md); converted on load.
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_cswin_t.pth')))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
