"""Official weights -> mmagent converter -> same outputs as the official implementation (≤ 1e-5, fp32).

The reference files (``tests/data/reference``, see their README) hold the official models' state dicts under the official key
names, their inputs and their outputs; see their README.
"""
import pytest
import torch
import torch.nn.functional as F

from mmagent.models import (AgentCSwinTransformer, AgentPVT, AgentSwinTransformer, FLattenCSwinTransformer, FLattenPVT,
                            FLattenPVTv2, FLattenSwinTransformer)
from mmagent.models.converters import convert_official_state_dict, load_converted

from .conftest import load_reference

TOLERANCE = 1e-5


def _convert_and_load(model, ref):
    converted, dropped = convert_official_state_dict(ref['state_dict'], model.checkpoint_layout)
    report = load_converted(model, converted, model.keys_added_on_purpose(), 'reference', strict=True)
    return dropped, report


def _max_diff(ours, theirs):
    return max((a - b).abs().max().item() for a, b in zip(ours, theirs))


def test_agent_swin_downstream(reference_dir):
    ref = load_reference(reference_dir, 'agent_swin_downstream')
    c = ref['constructor']
    model = AgentSwinTransformer(
        embed_dims=c['embed_dim'], depths=c['depths'], num_heads=c['num_heads'], attn_type=c['attn_type'],
        agent_num=c['agent_num'], agent_shapes=c['downstream_agent_shapes'], drop_path_rate=0.).eval()
    dropped, report = _convert_and_load(model, ref)
    assert dropped == [] and report['missing'] == []  # a downstream state dict: nothing to account for
    with torch.no_grad():
        for name, image in ref['inputs'].items():
            ours = model(image)
            assert [o.shape for o in ours] == [o.shape for o in ref['outputs'][name]]
            assert _max_diff(ours, ref['outputs'][name]) <= TOLERANCE, name


def test_agent_pvt_downstream(reference_dir):
    ref = load_reference(reference_dir, 'agent_pvt_downstream')
    c = ref['constructor']
    model = AgentPVT(
        embed_dims=c['embed_dims'], depths=c['depths'], num_heads=c['num_heads'], mlp_ratios=c['mlp_ratios'],
        attn_type=c['attn_type'], sr_ratios=c['sr_ratios'], agent_num=c['agent_num'],
        agent_shapes=c['downstream_agent_shapes'], drop_path_rate=0.).eval()
    _convert_and_load(model, ref)
    with torch.no_grad():
        for name, image in ref['inputs'].items():
            ours = model(image)
            assert [o.shape for o in ours] == [o.shape for o in ref['outputs'][name]]
            assert _max_diff(ours, ref['outputs'][name]) <= TOLERANCE, name


def _stage_tokens(model, blocks, image):
    """Run the backbone and capture the output tokens of the last block of each stage."""
    captured = []
    hooks = [b.register_forward_hook(lambda m, i, o: captured.append(o)) for b in blocks]
    with torch.no_grad():
        model(image)
    for hook in hooks:
        hook.remove()
    return captured


def test_flatten_swin_classification(reference_dir):
    ref = load_reference(reference_dir, 'flatten_swin_cls')
    c = ref['constructor']
    model = FLattenSwinTransformer(embed_dims=c['embed_dim'], depths=c['depths'], num_heads=c['num_heads'],
                                   attn_type=c['attn_type'], focusing_factor=c['focusing_factor'],
                                   kernel_size=c['kernel_size'], drop_path_rate=0.).eval()
    dropped, report = _convert_and_load(model, ref)
    # classification checkpoint: head, final norm and the stage-3 shift masks go; norm0..3 are new
    assert sorted(dropped) == ['head.bias', 'head.weight', 'layers.2.blocks.1.attn_mask', 'norm.bias',
                               'norm.weight']
    assert report['missing'] == sorted(f'norm{i}.{p}' for i in range(4) for p in ('bias', 'weight'))
    image = ref['inputs']['square']
    tokens = _stage_tokens(model, [layer.blocks[-1] for layer in model.layers], image)
    expected = ref['outputs']['square']
    for i in range(4):
        assert (tokens[i] - expected[f'stage{i}']).abs().max().item() <= TOLERANCE, f'stage{i}'
    sd = ref['state_dict']
    pooled = F.layer_norm(tokens[3], (tokens[3].shape[-1], ), sd['norm.weight'], sd['norm.bias']).mean(1)
    logits = pooled @ sd['head.weight'].T + sd['head.bias']
    assert (logits - expected['logits']).abs().max().item() <= TOLERANCE


def test_flatten_pvt_classification(reference_dir):
    ref = load_reference(reference_dir, 'flatten_pvt_cls')
    c = ref['constructor']
    model = FLattenPVT(embed_dims=c['embed_dims'], depths=c['depths'], num_heads=c['num_heads'],
                       mlp_ratios=c['mlp_ratios'], attn_type=c['attn_type'], sr_ratios=c['sr_ratios'],
                       focusing_factor=c['focusing_factor'], kernel_size=c['kernel_size'], drop_path_rate=0.).eval()
    dropped, report = _convert_and_load(model, ref)
    assert sorted(dropped) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    assert report['missing'] == []
    image = ref['inputs']['square']
    tokens = _stage_tokens(model, [getattr(model, f'block{i + 1}')[-1] for i in range(4)], image)
    expected = ref['outputs']['square']
    for i in range(4):
        assert (tokens[i] - expected[f'stage{i}']).abs().max().item() <= TOLERANCE, f'stage{i}'
    sd = ref['state_dict']
    logits = tokens[3].mean(1) @ sd['head.weight'].T + sd['head.bias']  # the official final norm is unused
    assert (logits - expected['logits']).abs().max().item() <= TOLERANCE


def test_flatten_pvt_v2_classification(reference_dir):
    ref = load_reference(reference_dir, 'flatten_pvt_v2_cls')
    c = ref['constructor']
    assert c['la_sr_ratios'] == '1111' and c['attn_type'] == 'LLLL'  # the released form: no spatial reduction
    model = FLattenPVTv2(embed_dims=c['embed_dims'], depths=c['depths'], num_heads=c['num_heads'],
                         mlp_ratios=c['mlp_ratios'], attn_type=c['attn_type'], focusing_factor=c['focusing_factor'],
                         kernel_size=c['kernel_size'], drop_path_rate=0.).eval()
    dropped, report = _convert_and_load(model, ref)
    # the stage norms norm1..4 are the backbone's output norms: only the classifier is dropped
    assert sorted(dropped) == ['head.bias', 'head.weight'] and report['missing'] == []
    image = ref['inputs']['square']
    tokens = _stage_tokens(model, [getattr(model, f'block{i + 1}')[-1] for i in range(4)], image)
    expected = ref['outputs']['square']
    for i in range(4):
        assert (tokens[i] - expected[f'stage{i}']).abs().max().item() <= TOLERANCE, f'stage{i}'
    with torch.no_grad():
        pooled = model(image)[-1].mean(dim=(2, 3))  # norm4 output, averaged over tokens
    sd = ref['state_dict']
    logits = pooled @ sd['head.weight'].T + sd['head.bias']
    assert (logits - expected['logits']).abs().max().item() <= TOLERANCE


def _cswin_model(cls, ref, dtype=torch.float32):
    c = ref['constructor']
    kwargs = dict(embed_dims=c['embed_dim'], depths=c['depth'], num_heads=c['num_heads'], attn_type=c['attn_type'],
                  split_sizes=c['split_size'], drop_path_rate=0.)
    if 'agent_num' in c:
        kwargs.update(agent_num=c['agent_num'])
    else:
        kwargs.update(focusing_factor=c['focusing_factor'], kernel_size=c['kernel_size'])
    model = cls(**kwargs).eval()
    dropped, report = _convert_and_load(model, ref)
    # CSwin has no stage norms: the final norm goes with the head, the output norms norm0..3 are new
    assert sorted(dropped) == ['head.bias', 'head.weight', 'norm.bias', 'norm.weight']
    assert report['missing'] == sorted(f'norm{i}.{p}' for i in range(4) for p in ('bias', 'weight'))
    return model.to(dtype)


def _cswin_outputs(model, ref, dtype=torch.float32):
    """Stage tokens (last block of each stage, before merging) and logits with the official final norm + head."""
    image = ref['inputs']['square'].to(dtype)
    tokens = _stage_tokens(model, [getattr(model, f'stage{i + 1}')[-1] for i in range(4)], image)
    sd = {k: v.to(dtype) for k, v in ref['state_dict'].items()}
    pooled = F.layer_norm(tokens[3], (tokens[3].shape[-1], ), sd['norm.weight'], sd['norm.bias']).mean(1)
    return dict({f'stage{i}': t for i, t in enumerate(tokens)}, logits=pooled @ sd['head.weight'].T + sd['head.bias'])


@pytest.mark.parametrize('cls, name, ill_conditioned', [
    (FLattenCSwinTransformer, 'flatten_cswin_cls', ()),
    # The last stage of the Agent-CSwin file (qkv weights with N(0, 0.3^2) noise: very sharp softmaxes) is
    # ill-conditioned: the official fp32 output there is itself 2.0e-5 from the float64 result of the same
    # weights (and ours 2.0e-5 too), so no fp32 implementation can be held to 1e-5 of it. Asserted below.
    (AgentCSwinTransformer, 'agent_cswin_cls', ('stage3', )),
])
def test_cswin_classification(reference_dir, cls, name, ill_conditioned):
    ref = load_reference(reference_dir, name)
    ours = _cswin_outputs(_cswin_model(cls, ref), ref)
    expected = ref['outputs']['square']
    assert set(ours) == set(expected)
    for key in sorted(expected):
        if key not in ill_conditioned:
            assert (ours[key] - expected[key]).abs().max().item() <= TOLERANCE, key
    if ill_conditioned:
        exact = _cswin_outputs(_cswin_model(cls, ref, torch.float64), ref, torch.float64)
        for key in ill_conditioned:
            official_error = (exact[key] - expected[key].double()).abs().max().item()
            ours_error = (exact[key] - ours[key].double()).abs().max().item()
            assert official_error > TOLERANCE, key  # the reference's own fp32 rounding exceeds the bar
            assert ours_error <= 1.25 * official_error, key  # ours is as close to the exact result as the official
            scale = expected[key].abs().max().item()
            assert (ours[key] - expected[key]).abs().max().item() <= TOLERANCE * scale, key  # relative 1e-5
