# FLatten family weight-decay rule (every FLatten config): no decay for norms, position tables and embeddings,
# the focused-attention positional encodings and temperatures (attn.scale). FLatten publishes no downstream
# recipe; this extends the official Swin/Agent list to FLatten's position parameters, as the Agent configs
# exempt theirs.
no_decay_keys = {
    'pos_embed': dict(decay_mult=0.),  # also absolute_pos_embed
    'relative_position_bias_table': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.),
    'positional_encoding': dict(decay_mult=0.),
    'attn.scale': dict(decay_mult=0.),
    'attns.0.scale': dict(decay_mult=0.),  # the CSwin branches
}
