# The FLatten-PVT-T backbone block of the FLatten-PVT detection and Semantic FPN configs: drop path 0.2, the
# released ImageNet checkpoint (converted on load). A config uses it as
# model.backbone={{_base_.flatten_pvt_backbone}}; its S/M/L configs override arch and checkpoint.
flatten_pvt_backbone = dict(
    _delete_=True,
    type='FLattenPVT',
    arch='t',
    drop_path_rate=0.2,
    out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/flatten_pvt_t.pth'))
