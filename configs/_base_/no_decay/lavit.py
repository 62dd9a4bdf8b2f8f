# LaViT weight-decay rule (every LaViT config): no decay for position embeddings, norms and the attention-reuse
# transforms Θ, Ψ and RAD, which start as the identity / average pooling that weight decay would pull away.
no_decay_keys = {
    'pos_embed': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.),
    'attn.theta': dict(decay_mult=0.),
    'attn.psi': dict(decay_mult=0.),
    'backbone.rad': dict(decay_mult=0.),
}
