# Agent-CSwin-T + UperNet, ADE20K 160k. No official downstream config or result exists: mmagent adopts CSWin's
# UperNet recipe (configs/_base_/recipes/upernet_cswin_160k.py) with its drop path (0.3), the agent grids of the
# ImageNet models (3-4-7-7) and the Agent weight-decay rule.
_base_ = ['../_base_/recipes/upernet_cswin_160k.py', '../_base_/no_decay/agent.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='AgentCSwinTransformer',
        arch='t',
        drop_path_rate=0.3,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_cswin_t.pth')))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.no_decay_keys}}))
