"""Agent-Swin / Agent-PVT: shapes at odd sizes, freezing, arguments, init."""
import pytest
import torch

from mmagent.models import AgentPVT, AgentSwinTransformer
from mmagent.registry import MMDET_MODELS, MMSEG_MODELS

# Shallow, narrow variants keep the unit tests fast; the full sizes appear in the count tests.
SMALL_SWIN = dict(arch='t', embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), attn_type='AAMB1')
SMALL_PVT = dict(arch='t', embed_dims=(16, 32, 80, 128), depths=(1, 1, 1, 1))


# Output shapes at any size, out_indices, freezing, with_cp, caches and the state-dict round trip of every
# backbone: tests/test_backbone_harness.py.


def test_pvt_position_embedding_resized_per_stage():
    model = AgentPVT(**SMALL_PVT)
    # 448x112: stage 1 is 112x28 (3136 tokens like 56x56, but a different grid): must be resized.
    pe = model.pos_embed_at(0, (112, 28))
    grid = model.pos_embed1.reshape(1, 56, 56, 16).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid, (112, 28), mode='bilinear').flatten(2).transpose(1, 2)
    assert torch.allclose(pe, expected, atol=1e-7)  # with gradients on: two matmuls with the kernel's weights
    with torch.no_grad():
        assert torch.equal(model.pos_embed_at(0, (112, 28)), expected)
    assert model.pos_embed_at(1, (28, 28)) is model.pos_embed2
    assert model.pos_embed_at(1, (56, 56)).shape == (1, 3136, 32)


def test_pvt_rejects_tiny_input():
    with pytest.raises(ValueError, match='at least 32'):
        AgentPVT(**SMALL_PVT)(torch.randn(1, 3, 24, 64))


def test_out_indices_and_registries():
    for registry in (MMDET_MODELS, MMSEG_MODELS):
        model = registry.build(dict(type='AgentSwinTransformer', out_indices=(1, 3), **SMALL_SWIN))
        outs = model(torch.randn(1, 3, 64, 96))
        assert [o.shape[1] for o in outs] == [32, 128]
        assert not hasattr(model, 'norm0') and hasattr(model, 'norm3')
        pvt = registry.build(dict(type='AgentPVT', out_indices=(2, ), **SMALL_PVT))
        assert [o.shape[1] for o in pvt(torch.randn(1, 3, 64, 64))] == [80]


@pytest.mark.parametrize('cls, cfg', [(AgentSwinTransformer, SMALL_SWIN), (AgentPVT, SMALL_PVT)])
def test_frozen_stages(cls, cfg):
    model = cls(frozen_stages=2, **cfg)
    model.train()
    if cls is AgentSwinTransformer:
        frozen = [model.patch_embed, model.layers[0], model.layers[1], model.norm0, model.norm1]
        trainable = [model.layers[2], model.layers[3], model.norm2]
    else:
        frozen = [model.patch_embed1, model.block1, model.patch_embed2, model.block2]
        trainable = [model.patch_embed3, model.block3]
        assert not model.pos_embed1.requires_grad and not model.pos_embed2.requires_grad
        assert model.pos_embed3.requires_grad
    for module in frozen:
        assert not module.training
        assert all(not p.requires_grad for p in module.parameters())
    for module in trainable:
        assert module.training and all(p.requires_grad for p in module.parameters())
    # a training step changes nothing frozen
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
    optim.step()
    after = model.state_dict()
    prefix = 'layers.0.' if cls is AgentSwinTransformer else 'block1.'
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))
    changed = 'layers.3.' if cls is AgentSwinTransformer else 'block4.'
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(changed))


def test_with_cp_gives_same_gradients():
    torch.manual_seed(1)
    plain = AgentSwinTransformer(**SMALL_SWIN)
    ckpt = AgentSwinTransformer(with_cp=True, **SMALL_SWIN)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64)
    sum(o.sum() for o in plain(x)).backward()
    sum(o.sum() for o in ckpt(x)).backward()
    g1 = plain.layers[0].blocks[0].attn.an_bias.grad
    g2 = ckpt.layers[0].blocks[0].attn.an_bias.grad
    assert torch.allclose(g1, g2, atol=1e-6)


def test_unknown_arch_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown arch 'x'.*'t', 's', 'b'"):
        AgentSwinTransformer(arch='x')
    with pytest.raises(ValueError, match=r"'t', 's', 'm', 'l'"):
        AgentPVT(arch='huge')


def test_unknown_argument_is_rejected():
    # The official configs leaked mmseg SwinTransformer keys into the backbone (docs/design/agent_attention.md).
    with pytest.raises(TypeError, match='pretrain_img_sizes|embed_dim'):
        AgentSwinTransformer(embed_dim=96)
    with pytest.raises(TypeError):
        MMDET_MODELS.build(dict(type='AgentPVT', use_abs_pos_embed=False))


def test_init_cfg_none_trains_from_scratch():
    model = AgentSwinTransformer(init_cfg=None, **SMALL_SWIN)
    model.init_weights()
    attn = model.layers[0].blocks[0].attn
    assert 0.01 < attn.an_bias.std().item() < 0.03  # trunc normal std 0.02
    assert attn.qkv.bias.abs().sum() == 0
    assert torch.isfinite(model(torch.randn(1, 3, 64, 64))[-1]).all()


def test_window_attention_bias_cached_at_inference_only():
    """The relative-position bias (+ shift mask) is built once per size at inference, rebuilt after a weight
    change and never cached in training; the shifted form masks across regions as the literal formula does."""
    from mmagent.models.layers import ShiftedWindowAttention
    op = ShiftedWindowAttention(16, 2, window_size=7, shift_size=3).eval()
    x = torch.randn(2, 10 * 12, 16)
    with torch.no_grad():
        first = op(x, (10, 12))
        assert torch.equal(op(x, (10, 12)), first)
        assert op.bias_cache.misses == 1 and op.bias_cache.hits == 1
        op.bias_cache.enabled = False
        assert torch.allclose(op(x, (10, 12)), first, atol=1e-6, rtol=0)
        op.bias_cache.enabled = True
        op.relative_position_bias_table.add_(torch.randn_like(op.relative_position_bias_table))  # not a constant: softmax ignores those
        assert not torch.allclose(op(x, (10, 12)), first) and op.bias_cache.misses == 2
    op.train()
    op(x, (10, 12)).sum().backward()
    assert op.relative_position_bias_table.grad.abs().sum() > 0 and op.bias_cache.misses == 2
