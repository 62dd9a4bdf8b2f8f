"""Official-checkpoint conversion (docs/design/checkpoints.md) and safe checkpoint loading."""
import os
import subprocess
import sys

import pytest
import torch
from yacs.config import CfgNode

from mmagent.models import (AgentCSwinTransformer, AgentPVT, AgentSwinTransformer, FLattenCSwinTransformer, FLattenPVT,
                            FLattenPVTv2, FLattenSwinTransformer)
from mmagent.utils.checkpoint import CheckpointError, load_checkpoint_file
from mmagent.utils.download import sha256_of

from .conftest import REPO_ROOT

SMALL_SWIN = dict(embed_dims=32, depths=(2, 2, 6, 2), num_heads=(1, 2, 4, 8))


def official_classification_state(model, layout, num_classes=1000):
    """An official-style classification state dict for ``model``: no output norms, a final norm, a head,
    and (Swin) the attn_mask buffers of the shifted B blocks whose map is larger than one window at 224."""
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(('norm0', 'norm1.', 'norm2.',
                                                                                        'norm3'))}
    if layout == 'swin':
        # pre-norm tokens ('norm1.'/'norm2.' exist at block level; drop only top-level output norms above)
        state = {k: v for k, v in model.state_dict().items() if not k.split('.')[0] in ('norm0', 'norm1',
                                                                                         'norm2', 'norm3')}
        width = model.num_features[-1]
        for stage, layer in enumerate(model.layers):
            grid = 56 // 2**stage
            for index, block in enumerate(layer.blocks):
                letter = model.block_letters[stage][index]
                if letter in 'BS' and index % 2 == 1 and grid > 7:
                    state[f'layers.{stage}.blocks.{index}.attn_mask'] = torch.zeros((grid // 7)**2, 49, 49)
    else:
        width = model.embed_dims[-1]
    state['norm.weight'], state['norm.bias'] = torch.ones(width), torch.zeros(width)
    state['head.weight'], state['head.bias'] = torch.randn(num_classes, width), torch.zeros(num_classes)
    return state


def save_official_container(path, state):
    """The container the official training code writes, with its pickled yacs config."""
    config = CfgNode(dict(MODEL=CfgNode(dict(TYPE='agent_swin', DROP_PATH_RATE=0.2)), TRAIN=CfgNode(dict(EPOCHS=300))))
    torch.save(dict(model=state, optimizer=dict(state={}, param_groups=[dict(lr=1e-3, params=[0])]),
                    lr_scheduler=dict(last_epoch=299), max_accuracy=82.6, epoch=299, config=config), path)


def _perturbed(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model


def test_official_swin_container_loads_with_expected_differences(tmp_path):
    source = _perturbed(AgentSwinTransformer(attn_type='AABB', **SMALL_SWIN))
    state = official_classification_state(source, 'swin')
    # Agent-Swin-S-like layout: stage 3 all B, its odd blocks carry (4, 49, 49) masks at 224
    assert sorted(k for k in state if k.endswith('attn_mask')) == [
        f'layers.2.blocks.{i}.attn_mask' for i in (1, 3, 5)]
    path = str(tmp_path / 'agent_swin_max_acc.pth')
    save_official_container(path, state)

    model = AgentSwinTransformer(attn_type='AABB', init_cfg=dict(type='Pretrained', checkpoint=path), **SMALL_SWIN)
    from mmagent.models.converters import load_pretrained
    report = load_pretrained(model, path, 'swin', model.keys_added_on_purpose())
    assert report['dropped'] == sorted(['head.weight', 'head.bias', 'norm.weight', 'norm.bias'] +
                                       [f'layers.2.blocks.{i}.attn_mask' for i in (1, 3, 5)])
    assert report['missing'] == sorted(f'norm{i}.{p}' for i in range(4) for p in ('weight', 'bias'))
    for key, value in source.state_dict().items():
        if not key.split('.')[0].startswith('norm'):
            assert torch.equal(model.state_dict()[key], value), key
    # and through init_weights(), as the runner calls it
    fresh = AgentSwinTransformer(attn_type='AABB', init_cfg=dict(type='Pretrained', checkpoint=path), **SMALL_SWIN)
    fresh.init_weights()
    assert torch.equal(fresh.layers[0].blocks[0].attn.an_bias, source.layers[0].blocks[0].attn.an_bias)


@pytest.mark.parametrize('cls', [AgentPVT, FLattenPVT])
def test_official_pvt_container(tmp_path, cls):
    small = dict(embed_dims=(16, 32, 80, 128), depths=(1, 1, 1, 1))
    source = _perturbed(cls(**small))
    path = str(tmp_path / 'pvt.pth')
    save_official_container(path, official_classification_state(source, 'pvt'))
    model = cls(init_cfg=dict(type='Pretrained', checkpoint=path), **small)
    model.init_weights()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.state_dict().items())


def test_wrong_family_or_size_names_the_keys(tmp_path):
    path = str(tmp_path / 'flatten.pth')
    save_official_container(path, official_classification_state(FLattenSwinTransformer(**SMALL_SWIN), 'swin'))
    model = AgentSwinTransformer(init_cfg=dict(type='Pretrained', checkpoint=path), **SMALL_SWIN)
    with pytest.raises(CheckpointError, match=r'unexpected key.*positional_encoding.*missing key.*an_bias'):
        model.init_weights()
    # same family, another size: the mismatching shapes are named
    agent_path = str(tmp_path / 'agent.pth')
    save_official_container(agent_path, official_classification_state(AgentSwinTransformer(**SMALL_SWIN), 'swin'))
    wider = AgentSwinTransformer(init_cfg=dict(type='Pretrained', checkpoint=agent_path), embed_dims=64,
                                 depths=(2, 2, 6, 2), num_heads=(1, 2, 4, 8))
    with pytest.raises(CheckpointError, match=r'shape mismatch.*layers.0.blocks.0.attn.qkv.weight: checkpoint '
                                              r'\(96, 32\) vs model \(192, 64\)'):
        wider.init_weights()


def test_offline_converter_detects_family_and_arch(tmp_path):
    source = _perturbed(AgentPVT(arch='t'))
    src, dst = str(tmp_path / 'agent_pvt_t_max_acc.pth'), str(tmp_path / 'converted.pth')
    save_official_container(src, official_classification_state(source, 'pvt'))
    result = subprocess.run([sys.executable, 'tools/model_converters/convert_official.py', src, dst], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "agent_pvt arch 't'" in result.stdout and 'head.weight' in result.stdout
    assert f'sha256 of the source: {sha256_of(src)}' in result.stdout
    digest = sha256_of(dst)
    assert f'sha256 of the output: {digest} (published as converted-{digest[:8]}.pth' in result.stdout
    converted = torch.load(dst, weights_only=True)
    assert converted['meta']['arch'] == 't' and 'head.weight' not in converted['state_dict']
    model = AgentPVT(arch='t', init_cfg=dict(type='Pretrained', checkpoint=dst))
    model.init_weights()
    assert torch.equal(model.block3[0].attn.an_bias, source.block3[0].attn.an_bias)


def test_offline_converter_detects_flatten_pvt_v2(tmp_path):
    source = _perturbed(FLattenPVTv2(arch='b0'))
    state = {k: v.clone() for k, v in source.state_dict().items()}  # PVTv2 keeps norm1..4: only the head is extra
    state['head.weight'], state['head.bias'] = torch.randn(1000, 256), torch.zeros(1000)
    src, dst = str(tmp_path / 'flatten_pvt_v2_b0.pth'), str(tmp_path / 'converted.pth')
    save_official_container(src, state)
    result = subprocess.run([sys.executable, 'tools/model_converters/convert_official.py', src, dst], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "flatten_pvtv2 arch 'b0'" in result.stdout
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(converted) == set(source.state_dict())
    assert torch.equal(converted['norm4.weight'], source.norm4.weight)


@pytest.mark.parametrize('cls, arch', [(AgentCSwinTransformer, 't'), (FLattenCSwinTransformer, 's')])
def test_offline_converter_detects_cswin(tmp_path, cls, arch):
    source = _perturbed(cls(arch=arch))
    state = {k: v.clone() for k, v in source.state_dict().items() if not k.startswith('norm')}  # CSwin: no stage norms
    width = source.num_features[-1]
    state.update({'norm.weight': torch.ones(width), 'norm.bias': torch.zeros(width),
                  'head.weight': torch.randn(1000, width), 'head.bias': torch.zeros(1000)})
    src, dst = str(tmp_path / 'cswin.pth'), str(tmp_path / 'converted.pth')
    save_official_container(src, state)
    result = subprocess.run([sys.executable, 'tools/model_converters/convert_official.py', src, dst], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{cls.family} arch '{arch}'" in result.stdout
    assert 'norm0.weight' in result.stdout  # reported as new in mmagent
    converted = torch.load(dst, weights_only=True)['state_dict']
    assert set(converted) == set(state) - {'norm.weight', 'norm.bias', 'head.weight', 'head.bias'}
    model = cls(arch=arch, init_cfg=dict(type='Pretrained', checkpoint=src))
    model.init_weights()
    assert torch.equal(model.stage1[0].attns[0].get_v.weight, source.stage1[0].attns[0].get_v.weight)


class _RunsCode:
    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_pickled_code_is_refused_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    payload = _RunsCode()
    payload.marker = str(marker)
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), meta=payload), path)
    with pytest.raises(CheckpointError, match=r"refused to load .*evil.pth.*allow-list"):
        load_checkpoint_file(path)
    model = AgentPVT(embed_dims=(16, 32, 80, 128), depths=(1, 1, 1, 1),
                     init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(CheckpointError, match='refused'):
        model.init_weights()
    assert not marker.exists()


def _numpy_values():
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    dtypes = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.float16,
              np.float32, np.float64, np.complex64, np.complex128]
    values = {f'empty_{np.dtype(t).name}': np.zeros((0, 3), dtype=t) for t in dtypes}
    values.update({f'scalar_{np.dtype(t).name}': t(1) for t in dtypes})
    values.update(empty_1d=np.array([]), array=np.arange(6).reshape(2, 3), empty_history=HistoryBuffer())
    return values


# torch.save's default and explicit protocol 2 (bytes pickled through globals). torch's weights-only unpickler
# reads no higher protocol's numpy pickles at all (SHORT_BINBYTES, FRAME), whatever the allow-list.
@pytest.mark.parametrize('protocol', [None, 2])
def test_numpy_arrays_and_scalars_of_every_dtype_load(tmp_path, protocol):
    """mmengine's message hub stores empty HistoryBuffers (two empty arrays each) and numpy scalars: every dtype,
    empty arrays included, loads with weights_only=True through mmagent and mmengine's own loader."""
    import numpy as np
    from mmengine.runner.checkpoint import _load_checkpoint
    values = _numpy_values()
    path = str(tmp_path / 'numpy.pth')
    kwargs = {} if protocol is None else dict(pickle_protocol=protocol)
    torch.save(dict(state_dict=dict(w=torch.ones(2)), message_hub=values), path, **kwargs)
    for loaded in (load_checkpoint_file(path), _load_checkpoint(path, map_location='cpu')):
        for name, value in values.items():
            got = loaded['message_hub'][name]
            if isinstance(value, np.ndarray):
                assert got.dtype == value.dtype and got.shape == value.shape and (got == value).all(), name
            elif isinstance(value, np.generic):
                assert type(got) is type(value) and got == value, name
            else:
                assert type(got) is type(value) and len(got._log_history) == 0, name


class _AllocatesBytes:
    def __reduce__(self):
        return (bytes, (10**6, ))


def test_bytes_calls_other_than_the_empty_one_are_refused(tmp_path):
    path = str(tmp_path / 'alloc.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), meta=_AllocatesBytes()), path)
    with pytest.raises(CheckpointError, match='refused'):
        load_checkpoint_file(path)


class _LooksUpAttribute:
    def __reduce__(self):
        from mmengine.logging.history_buffer import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_only_history_buffer_statistics_may_be_looked_up(tmp_path):
    # mmengine checkpoints pickle HistoryBuffer statistics as getattr(HistoryBuffer, 'mean'); nothing else.
    from mmengine.logging.history_buffer import HistoryBuffer
    good, bad = str(tmp_path / 'good.pth'), str(tmp_path / 'bad.pth')
    buffer = HistoryBuffer()
    buffer.update(3.0)
    torch.save(dict(log=buffer), good)
    assert load_checkpoint_file(good)['log'].mean() == 3.0
    torch.save(dict(x=_LooksUpAttribute()), bad)
    with pytest.raises(CheckpointError, match=r"refusing getattr\(.*HistoryBuffer.*'__init__'\)"):
        load_checkpoint_file(bad)


def test_bad_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint file not found: '.*missing.pth'"):
        load_checkpoint_file(str(tmp_path / 'missing.pth'))
    text = tmp_path / 'notes.pth'
    text.write_text('this is not a checkpoint')
    with pytest.raises(CheckpointError, match='not a .*checkpoint'):
        load_checkpoint_file(str(text))
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=dict(w=torch.randn(1000))), good)
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_checkpoint_file(str(truncated))
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointError, match='empty'):
        load_checkpoint_file(str(empty))


# ------------------------------------------------------------------------------------ verified downloads
@pytest.fixture
def http_server(tmp_path):
    """A static file server on 127.0.0.1 for the test's own files; yields (folder, base URL)."""
    import functools
    import http.server
    import threading
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


def test_pretrained_urls_are_cached_and_verified(tmp_path, http_server, monkeypatch):
    folder, base = http_server
    cache = tmp_path / 'torch_home' / 'checkpoints'
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # mmengine's cache: $TORCH_HOME/checkpoints
    source = _perturbed(FLattenPVTv2(arch='b0'))
    plain = folder / 'weights.pth'
    torch.save(dict(state_dict=source.state_dict()), plain)
    good = sha256_of(str(plain))
    named = folder / f'flatten-pvtv2-b0-{good[:8]}.pth'  # the OpenMMLab name carries the hash prefix
    named.write_bytes(plain.read_bytes())
    tampered = folder / f'tampered-{good[:8]}.pth'
    data = bytearray(plain.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))

    def build(url, **extra):
        model = FLattenPVTv2(arch='b0', init_cfg=dict(type='Pretrained', checkpoint=url, **extra))
        model.init_weights()
        return model

    model = build(f'{base}/{named.name}')  # suffix checked
    assert torch.equal(model.block1[0].attn.positional_encoding, source.block1[0].attn.positional_encoding)
    assert sha256_of(str(cache / named.name)) == good
    build(f'{base}/{named.name}')  # from the cache, verified again
    build(f'{base}/weights.pth', sha256=good)  # explicit digest
    build(f'{base}/weights.pth', sha256=good[:12].upper())  # or a prefix of it

    with pytest.raises(CheckpointError, match=rf'failed its integrity check: expected sha256 {good[:8]}, got '
                                              rf'(?!{good})[0-9a-f]{{64}}; the cached copy .*tampered-{good[:8]}\.pth '
                                              r'was removed'):
        build(f'{base}/{tampered.name}')
    assert not (cache / tampered.name).exists()
    (cache / 'weights.pth').unlink()
    with pytest.raises(CheckpointError, match=rf'expected sha256 {"0" * 64}, got {good}'):
        build(f'{base}/weights.pth', sha256='0' * 64)
    assert not (cache / 'weights.pth').exists()
    # a cached file damaged after its download is caught on the next use
    cached = cache / named.name
    cached.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match='failed its integrity check'):
        build(f'{base}/{named.name}')
    build(f'{base}/{named.name}')  # downloaded again
    with pytest.raises(CheckpointError, match=r"could not download checkpoint '.*/missing-0123abcd\.pth': HTTP Error "
                                              r'404'):
        build(f'{base}/missing-0123abcd.pth')
    with pytest.raises(ValueError, match='sha256 must be 8 to 64 hexadecimal digits'):
        build(f'{base}/weights.pth', sha256='xyz')
    # a local file is checked too when a digest is given
    with pytest.raises(CheckpointError, match=rf"checkpoint '{tampered}' failed its integrity check"):
        build(str(tampered), sha256=good)
