"""tools/benchmark.py smoke test on tiny sizes (not a timing test: no latency is asserted)."""
import json
import subprocess
import sys

import torch

from mmagent.analysis.benchmark import (Candidate, attention_macs, baseline_for, benchmark, block_latencies,
                                        build_backbone_spec, cpu_peak_bytes, naive_variant)

from .conftest import REPO_ROOT


def test_cpu_peak_bytes_sees_a_large_temporary():
    def run():
        big = torch.ones(4 * 2**20, dtype=torch.uint8)  # 4 MB
        return big.sum()

    peak = cpu_peak_bytes(run)
    assert 4 * 2**20 <= peak < 64 * 2**20


def test_candidates_and_naive_variant():
    model = build_backbone_spec('AgentPVT:t,embed_dims=(16, 32, 80, 128),depths=(1, 1, 1, 1)')
    assert baseline_for(model) == 'pvt'
    assert baseline_for(build_backbone_spec('FLattenSwinTransformer:t')) == 'swin'
    naive = naive_variant(model)
    assert all(m.mode == 'naive' for m in naive.modules() if hasattr(m, 'agent_shape'))
    assert all(m.mode == 'fast' for m in model.modules() if hasattr(m, 'agent_shape'))
    results = benchmark([Candidate('ours', model, 'model'), Candidate('naive', naive, 'naive')], [(64, 96)], [2],
                        warmup=1, repeats=2, log=lambda s: None)
    assert [r.name for r in results] == ['ours', 'naive']
    assert all(len(r.times_s) == 2 and r.peak_bytes > 0 and r.images_per_s > 0 for r in results)


def test_block_latencies_cover_every_block():
    model = build_backbone_spec('LaViT:t,dp_cfg=None')
    latencies = block_latencies(model, torch.randn(1, 3, 64, 64), warmup=1, repeats=1)
    blocks = [k for k in latencies if not k.endswith('.attn')]
    assert len(blocks) == sum(model.depths) and all(f'{k}.attn' in latencies for k in blocks)
    assert all(v > 0 for v in latencies.values())


def test_tool_baseline_can_be_chosen():
    # LaViT-S is held to mmdet's PVTv2-B2 (its size class), not to the PVT-T its skeleton declares
    command = [sys.executable, 'tools/benchmark.py', 'LaViT:t', '--shape', '64', '64', '--warmup', '0', '--repeats',
               '1', '--no-memory']
    chosen = subprocess.run(command + ['--baseline', 'pvtv2_b2'], cwd=REPO_ROOT, capture_output=True, text=True)
    assert chosen.returncode == 0, chosen.stderr[-3000:]
    assert 'mmdet PVTv2-B2' in chosen.stdout and 'mmdet PVT-T' not in chosen.stdout
    both = subprocess.run(command + ['--baseline', 'pvt', '--no-baseline'], cwd=REPO_ROOT, capture_output=True,
                          text=True)
    assert both.returncode != 0 and 'contradict' in both.stderr


def test_tool_runs_and_writes_ratios(tmp_path):
    out = tmp_path / 'bench.json'
    result = subprocess.run(
        [sys.executable, 'tools/benchmark.py', 'AgentSwinTransformer:t,embed_dims=32,depths=(1, 1, 1, 1),'
         'num_heads=(1, 2, 4, 8),attn_type=AAAB', '--shape', '64', '96', '96', '128', '--batch-sizes', '1', '2',
         '--warmup', '1', '--repeats', '1', '--naive', '--json', str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mmdet Swin-T' in result.stdout and 'peak-memory growth' in result.stdout
    summary = json.loads(out.read_text())
    assert len(summary['results']) == 2 * 2 * 3  # shapes x batches x (ours, baseline, naive)
    assert summary['cpu_bf16_units'] in ('AMX', 'AVX512-BF16', 'none')  # bf16 rows say what the CPU had
    against = {r['against'] for r in summary['ratios']}
    assert against == {'mmdet Swin-T', summary['results'][2]['name']}
    assert all(r['latency'] > 0 and r['memory'] > 0 for r in summary['ratios'])


def test_tool_reports_lavit_la_over_va_latency_and_macs(tmp_path):
    # --per-block on LaViT: per stage, an LA layer's latency and MACs over a VA layer's (attention op).
    out = tmp_path / 'lavit.json'
    result = subprocess.run(
        [sys.executable, 'tools/benchmark.py', 'LaViT:t,dp_cfg=None', '--shape', '64', '96', '--batch-sizes',
         '1', '--warmup', '1', '--repeats', '1', '--per-block', '--no-memory', '--no-baseline', '--json', str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'LA / VA latency per stage' in result.stdout and 'LA / VA MACs per stage' in result.stdout
    summary = json.loads(out.read_text())
    stages = [f'stage{i}' for i in range(1, 5)]  # LaViT-T: one VA and one or two LA layers per stage
    assert sorted(summary['la_over_va_macs']) == stages
    assert {f'{s}/{part}' for s in stages for part in ('attention', 'block')} == set(summary['la_over_va'])
    # an LA layer drops Q and Q·Kᵀ: fewer MACs than the VA layer, and more than the shared folded projection
    assert all(0.3 < v < 1 for v in summary['la_over_va_macs'].values()), summary['la_over_va_macs']


def test_attention_macs_match_the_ops_counted_alone():
    from mmagent.analysis import count_flops
    model = build_backbone_spec('LaViT:t,dp_cfg=None')
    macs = attention_macs(model, torch.randn(1, 3, 64, 96))
    assert sorted(macs) == sorted(f'{n}.attn' for n, m in model.named_modules() if type(m).__name__ == 'LaViTBlock')
    va = model.stage2[0].attn  # RAD residual as its third input
    x, hw = torch.randn(1, 8 * 12, va.embed_dims), (8, 12)
    alone = count_flops(va, (x, hw, torch.randn(1, va.num_heads, 96, 49))).total()
    assert macs['stage2.0.attn'] == alone > 0


def test_tool_times_onnxruntime_against_eager(tmp_path):
    # --onnxruntime: the backbone exported (dynamic H/W, at the first shape) and run at both shapes, read against
    # the eager model; refused with --backward (ONNX Runtime runs inference only).
    out = tmp_path / 'ort.json'
    spec = 'FLattenPVT:t,embed_dims=(16, 32, 80, 128),depths=(1, 1, 1, 1)'
    result = subprocess.run(
        [sys.executable, 'tools/benchmark.py', spec, '--shape', '64', '96', '96', '64', '--warmup', '1',
         '--repeats', '1', '--onnxruntime', '--no-baseline', '--json', str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(out.read_text())
    names = [r['name'] for r in summary['results']]
    assert names == [spec, f'{spec} (onnxruntime)'] * 2
    ratios = [r for r in summary['ratios'] if r['name'].endswith('(onnxruntime)')]
    assert [r['against'] for r in ratios] == [spec] * 2 and all(r['latency'] > 0 for r in ratios)
    assert all(r['peak_mb'] is None for r in summary['results'] if r['role'] == 'onnxruntime')
    refused = subprocess.run([sys.executable, 'tools/benchmark.py', spec, '--onnxruntime', '--backward'],
                             cwd=REPO_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and '--backward' in refused.stderr


def test_compiled_runtime_shares_the_parameters():
    from mmagent.analysis.benchmark import runtime_variants
    model = build_backbone_spec('FLattenPVT:t,embed_dims=(16, 32, 80, 128),depths=(1, 1, 1, 1)')
    (compiled, ) = runtime_variants('m', model, compile=True, onnxruntime=False, shape=(64, 64), workdir='.')
    assert compiled.role == 'compiled' and compiled.name == 'm (compiled)'
    assert [p.data_ptr() for p in compiled.model.parameters()] == [p.data_ptr() for p in model.parameters()]


def test_roofline_rows(tmp_path):
    """--roofline: MACs of the counted pass over the measured latency, against measured matmul peaks."""
    out = tmp_path / 'roofline.json'
    result = subprocess.run(
        [sys.executable, 'tools/benchmark.py', 'FLattenPVT:t,embed_dims=(16, 32, 80, 128),depths=(1, 1, 1, 1)',
         '--shape', '64', '96', '--warmup', '0', '--repeats', '1', '--no-memory', '--backward', '--roofline',
         '--json', str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(out.read_text())['roofline']
    assert summary['macs_per_step'] == '3x forward'
    assert all(summary['peaks_gmacs_per_s'][k] > 0 for k in ('fp32', 'bf16'))
    assert [r['name'] for r in summary['rows']][-1] == 'mmdet PVT-T'
    from mmagent.analysis.benchmark import build_backbone_spec, forward_gmacs
    model = build_backbone_spec('FLattenPVT:t,embed_dims=(16, 32, 80, 128),depths=(1, 1, 1, 1)')
    ours = summary['rows'][0]
    assert abs(ours['gmacs'] - 3 * forward_gmacs(model, torch.randn(1, 3, 64, 96))) < 1e-9
    assert abs(ours['gmacs_per_s'] - ours['gmacs'] / (ours['median_ms'] / 1e3)) < 1e-6 * ours['gmacs_per_s']
    assert len(ours['top_operators']) == 5 and all(op['self_ms'] >= 0 for op in ours['top_operators'])
    assert 'roofline (training step = 3x forward MACs' in result.stdout
