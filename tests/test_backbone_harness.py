"""One harness over every registered backbone (``mmagent.models.BACKBONES``), each at its narrow, shallow
``smoke_arch``: a new family is covered by registering it. Family-specific behaviour lives in the family's own
test file."""
import io
import math

import pytest
import torch
import torch.nn as nn

import mmagent
from mmagent.models import (BACKBONES, clear_caches, create_backbone, derived_caches, list_backbones,
                            set_attention_mode, set_caches_enabled)
from mmagent.models.backbones.cswin_skeleton import CSwinSkeleton
from mmagent.models.backbones.pyramid_skeleton import PyramidSkeleton
from mmagent.models.backbones.swin_skeleton import SwinSkeleton
from mmagent.registry import MMDET_MODELS, MMPRETRAIN_MODELS, MMSEG_MODELS

FAMILIES = sorted(BACKBONES)
# Odd, non-square and extreme-aspect inputs (every backbone needs >= 32 px per side at most).
SIZES = [(64, 64), (97, 131), (130, 70), (200, 296), (448, 112), (448, 448), (64, 448)]


def smoke(family, **kwargs):
    cls = BACKBONES[family]
    return cls(**dict(cls.smoke_arch, **kwargs))


def _outputs(model, x):
    with torch.no_grad():
        return model(x)


def test_every_family_is_registered_and_has_a_smoke_arch():
    assert FAMILIES == ['agent_cswin', 'agent_pvt', 'agent_swin', 'flatten_cswin', 'flatten_pvt', 'flatten_pvtv2', 'flatten_swin',
                        'lavit']
    for family, cls in BACKBONES.items():
        assert cls.smoke_arch, family
        for registry in (MMDET_MODELS, MMSEG_MODELS, MMPRETRAIN_MODELS):
            assert registry.get(cls.__name__) is cls


@pytest.mark.parametrize('family', FAMILIES)
@pytest.mark.parametrize('hw', SIZES)
def test_any_size(family, hw):
    model = smoke(family).eval()
    outs = _outputs(model, torch.randn(1, 3, *hw))
    grids = model.stage_grids(*hw)
    assert [tuple(o.shape) for o in outs] == [(1, c, *g) for c, g in zip(model.stage_channels, grids)]
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize('family', FAMILIES)
def test_stage_grids_follow_the_skeleton_geometry(family):
    model = smoke(family)
    for height, width in SIZES:
        expected = []
        if isinstance(model, SwinSkeleton):  # the stem pads to the patch, merging pads odd sizes: ceil
            h, w = math.ceil(height / 4), math.ceil(width / 4)
            for _ in range(4):
                expected.append((h, w))
                h, w = math.ceil(h / 2), math.ceil(w / 2)
        elif isinstance(model, CSwinSkeleton):  # the official 7x7/4 stem with padding 2, then 3x3/2 pad 1
            h, w = (height - 3) // 4 + 1, (width - 3) // 4 + 1
            for _ in range(4):
                expected.append((h, w))
                h, w = math.ceil(h / 2), math.ceil(w / 2)
        else:  # one conv per stage, no padding beyond its own: (size + 2p - k) // s + 1
            assert isinstance(model, PyramidSkeleton)
            h, w = height, width
            for k, s, p in model.geometries:
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
                expected.append((h, w))
        assert model.stage_grids(height, width) == expected, (height, width)


@pytest.mark.parametrize('family', FAMILIES)
def test_out_indices(family):
    model = smoke(family, out_indices=(1, 3)).eval()
    outs = _outputs(model, torch.randn(1, 3, 96, 64))
    assert [o.shape[1] for o in outs] == [model.stage_channels[1], model.stage_channels[3]]
    with pytest.raises(ValueError, match='out_indices'):
        smoke(family, out_indices=(4, ))


@pytest.mark.parametrize('family', FAMILIES)
def test_frozen_stages(family):
    model = smoke(family, frozen_stages=2)
    model.train()
    frozen = [item for stage in range(3) for item in model._stage_modules(stage)]
    frozen_params = {id(p) for item in frozen
                     for p in ([item] if isinstance(item, nn.Parameter) else item.parameters())}
    assert frozen_params
    for item in frozen:
        if isinstance(item, nn.Module):
            assert not item.training
    for param in model.parameters():
        assert param.requires_grad == (id(param) not in frozen_params)
    assert any(p.requires_grad for p in model.parameters())
    outs = model(torch.randn(1, 3, 64, 64))
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is None for p in model.parameters() if id(p) in frozen_params)


@pytest.mark.parametrize('family', FAMILIES)
def test_norm_eval_keeps_batch_norms_in_eval_mode(family):
    model = smoke(family, norm_eval=True)
    model.extra_bn = nn.BatchNorm2d(4)  # the backbones are LayerNorm-only: a user-added BN shows the effect
    model.train()
    assert not model.extra_bn.training and model.training
    model = smoke(family)
    model.extra_bn = nn.BatchNorm2d(4)
    model.train()
    assert model.extra_bn.training


@pytest.mark.parametrize('family', FAMILIES)
def test_with_cp_gives_the_same_outputs_and_gradients(family):
    torch.manual_seed(0)
    plain = smoke(family, drop_path_rate=0.)
    checkpointed = smoke(family, drop_path_rate=0., with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 96)
    losses = []
    for model in (plain, checkpointed):
        model.train()
        loss = sum(o.pow(2).mean() for o in model(x))
        loss.backward()
        losses.append(loss.detach())
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        assert (a.grad is None) == (b.grad is None), name
        if a.grad is not None:
            assert torch.allclose(a.grad, b.grad, atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize('family', FAMILIES)
def test_caches_only_at_inference(family):
    model = smoke(family)
    caches = derived_caches(model)
    assert caches, 'every backbone resizes something per input size'
    x = torch.randn(1, 3, 97, 131)  # not the pretraining grid: position terms are resized
    model.train()
    model(x)
    assert all(len(c) == 0 for c in caches), 'training must recompute (the resize is part of the graph)'
    model.eval()
    first = _outputs(model, x)
    again = _outputs(model, x)
    assert sum(c.hits for c in caches) > 0
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    with torch.no_grad():  # an in-place weight change invalidates what was cached
        for p in model.parameters():
            p.add_(0.01)
    changed = _outputs(model, x)
    assert all(len(c) <= c.max_entries for c in caches)
    model.train()
    assert all(len(c) == 0 for c in caches)
    set_caches_enabled(model, False)
    model.eval()
    assert all(torch.equal(a, b) for a, b in zip(_outputs(model, x), changed))
    assert all(len(c) == 0 for c in caches)
    set_caches_enabled(model, True)
    _outputs(model, x)
    assert clear_caches(model) == len(caches) and all(len(c) == 0 for c in caches)


@pytest.mark.parametrize('family', FAMILIES)
def test_state_dict_round_trip(family):
    torch.manual_seed(1)
    source = smoke(family).eval()
    torch.manual_seed(2)
    target = smoke(family).eval()
    x = torch.randn(1, 3, 64, 80)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert list(state) == list(target.state_dict())
    target.load_state_dict(state, strict=True)
    assert all(torch.equal(a, b) for a, b in zip(_outputs(source, x), _outputs(target, x)))


@pytest.mark.parametrize('family', FAMILIES)
def test_every_tensor_is_initialised_once(family, monkeypatch):
    """Each module initialises its own parameters at construction; nothing re-initialises them."""
    seen = []
    original = nn.init.trunc_normal_

    def recording(tensor, *args, **kwargs):
        seen.append(id(tensor))
        return original(tensor, *args, **kwargs)

    monkeypatch.setattr(nn.init, 'trunc_normal_', recording)
    model = smoke(family)
    model.init_weights()
    assert len(seen) == len(set(seen)), 'a tensor was initialised twice'
    # LaViT's RAD head mix starts as replication, a structured init of its own.
    linears = [m.weight for name, m in model.named_modules() if isinstance(m, nn.Linear) and 'head_mix' not in name]
    assert linears and {id(w) for w in linears} <= set(seen), 'every Linear weight gets the truncated-normal init'


@pytest.mark.parametrize('family', FAMILIES)
def test_naive_mode_matches_fast_mode(family):
    model = smoke(family).eval()
    x = torch.randn(2, 3, 97, 75)
    fast = _outputs(model, x)
    assert set_attention_mode(model, 'naive') > 0
    naive = _outputs(model, x)
    assert all(torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(fast, naive))
    set_attention_mode(model, 'fast')
    assert all(torch.equal(a, b) for a, b in zip(fast, _outputs(model, x)))


@pytest.mark.parametrize('training', [False, True], ids=['inference', 'training'])
@pytest.mark.parametrize('family', FAMILIES)
def test_bf16_autocast_matches_fp32_per_stage(family, training):
    """bf16 autocast (the CPU's bf16 matrix units) gives the fp32 features up to bf16 rounding: cosine
    similarity >= 0.999 at every stage, in inference and in a training forward (whose attention forms differ)."""
    torch.manual_seed(0)
    model = smoke(family, drop_path_rate=0.).train(training)
    x = torch.randn(2, 3, 97, 75)
    with torch.set_grad_enabled(training):
        reference = model(x)
        linear_dtypes = set()
        hooks = [m.register_forward_hook(lambda mod, inp, out: linear_dtypes.add(out.dtype))
                 for m in model.modules() if isinstance(m, nn.Linear)]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            low = model(x)
        for hook in hooks:
            hook.remove()
    assert linear_dtypes == {torch.bfloat16}, linear_dtypes  # the matmuls ran in bf16
    for stage, (a, b) in enumerate(zip(reference, low)):
        cosine = torch.nn.functional.cosine_similarity(a.double().flatten(), b.double().flatten(), dim=0).item()
        assert cosine >= 0.999, f'stage {stage}: cosine {cosine:.5f}'


@pytest.mark.parametrize('family', FAMILIES)
def test_create_backbone_by_name(family, tmp_path):
    cls = BACKBONES[family]
    arch = next(iter(cls.arch_zoo))
    name = f'{family}_{arch}'
    assert name in list_backbones()
    overrides = {k: v for k, v in cls.smoke_arch.items()}
    model = mmagent.create_backbone(name, **overrides)
    assert type(model) is cls
    path = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    loaded = create_backbone(name, checkpoint=str(path), **overrides)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    with pytest.raises(ValueError, match='unknown backbone'):
        create_backbone(f'{family}_zz')
