# Agent family weight-decay rule (every Agent config, detection and segmentation): no decay for the
# parameters whose name contains one of these keys: norms, position tables and embeddings, and the six agent
# position biases. This is the list of the official Agent-Swin downstream configs; the official Agent-PVT
# configs decay everything (they inherit PVT's recipe), mmagent applies the family rule there too.
no_decay_keys = {
    'pos_embed': dict(decay_mult=0.),  # also absolute_pos_embed
    'relative_position_bias_table': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.),
    'an_bias': dict(decay_mult=0.),
    'na_bias': dict(decay_mult=0.),
    'ah_bias': dict(decay_mult=0.),
    'aw_bias': dict(decay_mult=0.),
    'ha_bias': dict(decay_mult=0.),
    'wa_bias': dict(decay_mult=0.),
}
