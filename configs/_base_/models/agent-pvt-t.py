# The Agent-PVT-T backbone block of the Agent-PVT detection and segmentation configs: the official downstream
# agent grids 12-16-28-28, drop path 0.1, the released ImageNet checkpoint (converted on load). A config uses it
# as model.backbone={{_base_.agent_pvt_backbone}}; its S/M/L configs override arch, drop path and checkpoint.
agent_pvt_backbone = dict(
    _delete_=True,
    type='AgentPVT',
    arch='t',
    agent_shapes=(12, 16, 28, 28),
    drop_path_rate=0.1,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/agent_pvt_t_max_acc.pth'))
