"""Speed and memory of an mmagent backbone (or a whole model) against baselines, in one process.

    python tools/benchmark.py TARGET [--shape H W [H W ...]] [--batch-sizes 1 2] [--device cpu|cuda]
                              [--backward] [--dtype fp32|fp16|bf16] [--warmup 2] [--repeats 5]
                              [--naive] [--no-baseline] [--baseline KIND] [--no-memory] [--whole-model]
                              [--per-block] [--no-cache] [--compile] [--onnxruntime] [--roofline]
                              [--json OUT] [--cfg-options k=v ...]

TARGET is a config (its backbone, or the whole model with --whole-model) or a backbone spec
``Type[:arch][,key=value,...]``, e.g. ``AgentSwinTransformer:t`` or ``LaViT:s,dp_cfg=None``.

Baselines run in the same process: the mmdet backbone the model names as its ``benchmark_baseline`` (mmdet's
``SwinTransformer``, Swin-T, for Swin-skeleton backbones; ``PyramidVisionTransformer``, PVT-T, for pyramid
ones; ``--baseline swin|pvt|pvtv2|pvtv2_b2`` picks another, e.g. mmdet's PVTv2-B2 for LaViT-S); ``--naive``
adds the same backbone with its attention ops in their naive (official, literal) form.
``--compile`` adds the model under ``torch.compile`` (Inductor, compiled during warm-up) and ``--onnxruntime``
the model exported to ONNX (dynamic H/W, at the first shape) and run by ONNX Runtime with as many threads as
PyTorch (forward only); both are read against the eager model. Reported: median latency over interleaved rounds
after warm-up, throughput, peak memory, and ratios to the baseline, to the naive form and to the eager model.
``--per-block`` times every transformer block of the first candidate (e.g. LaViT's VA vs LA layers).
``--roofline`` adds, for every row, the achieved throughput: the FLOPs tool's multiply-accumulates of the pass
(a forward; a training step counts 3× the forward: the backward computes gradients for inputs and weights)
over the measured latency, against this machine's measured fp32 and bf16 matmul peaks (best square product, up to 2048²),
and the operators with the most self time in one profiled pass.
"""
import argparse
import copy
import json
import os.path as osp
import statistics
import sys
import tempfile

import torch
import torch.nn as nn
from mmengine.config import DictAction

import mmagent  # noqa: F401
from mmagent.analysis import build_backbone, build_model, load_config
from mmagent.analysis.benchmark import (BASELINE_NAMES, BASELINES, RUNTIME_ROLES, Candidate, attention_macs,
                                        baseline_for, benchmark, block_latencies, build_backbone_spec,
                                        build_baseline, cpu_bf16_support, format_table, forward_gmacs,
                                        matmul_peak_gmacs, naive_variant, runtime_variants, top_operators)
from mmagent.models.api import set_caches_enabled
from mmagent.utils.config import task_of

DTYPES = {'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}


class WholeModel(nn.Module):
    """A detector / segmentor as ``forward(images)``: the network forward of ``_forward`` (no loss, no NMS
    post-processing beyond what the forward itself does)."""

    def __init__(self, model: nn.Module, task: str) -> None:
        super().__init__()
        self.model = model
        self.task = task

    def forward(self, x: torch.Tensor):
        if self.task == 'mmdet':
            from mmdet.structures import DetDataSample as Sample
        else:
            from mmseg.structures import SegDataSample as Sample
        h, w = x.shape[-2:]
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w),
                    scale_factor=(1., 1.))
        return self.model._forward(x, [Sample(metainfo=meta) for _ in range(x.shape[0])])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('target', help='config file or backbone spec Type[:arch][,key=value]')
    parser.add_argument('--shape', type=int, nargs='+', default=[1280, 800], metavar='N',
                        help='input H W, several pairs allowed (default 1280 800)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1])
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i]')
    parser.add_argument('--backward', action='store_true', help='time forward + backward')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32',
                        help='bf16/fp16: the forward runs under torch.autocast(device, dtype) with float32 weights, '
                             'as tools/train.py and tools/test.py --amp run the backbone (the backward of '
                             '--backward follows autocast\'s dtypes); fp32: no autocast')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--naive', action='store_true', help='add the naive attention form as a baseline')
    parser.add_argument('--no-baseline', action='store_true', help='skip the mmdet baseline')
    parser.add_argument('--baseline', choices=sorted(BASELINES),
                        help="the mmdet baseline to compare with (default: the one the backbone declares; e.g. "
                             "'pvtv2_b2' for LaViT-S, its closest size class)")
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory runs')
    parser.add_argument('--whole-model', action='store_true', help='benchmark the whole model of a config')
    parser.add_argument('--per-block', action='store_true', help='latency of every transformer block')
    parser.add_argument('--no-cache', action='store_true',
                        help='recompute resized biases / encodings every forward (disable the inference cache)')
    parser.add_argument('--compile', action='store_true', help='add the model under torch.compile (Inductor)')
    parser.add_argument('--onnxruntime', action='store_true',
                        help='add the model exported to ONNX and run by ONNX Runtime (forward only)')
    parser.add_argument('--roofline', action='store_true',
                        help='achieved GMAC/s of every row against the measured fp32 / bf16 matmul peaks, and the '
                             'top operators by self time')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--json', help='write the figures and ratios to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if len(args.shape) % 2:
        parser.error('--shape takes H W pairs')
    if args.baseline and args.no_baseline:
        parser.error('--baseline and --no-baseline contradict each other')
    args.shapes = [tuple(args.shape[i:i + 2]) for i in range(0, len(args.shape), 2)]
    if args.onnxruntime and (args.backward or args.whole_model or args.device != 'cpu' or args.dtype != 'fp32'):
        parser.error('--onnxruntime times the fp32 forward of a backbone on the CPU: leave out --backward, '
                     '--whole-model, --device and --dtype')
    return args


def build_candidates(args):
    is_config = args.target.endswith('.py') or '::' in args.target
    if is_config:
        cfg = load_config(args.target, args.cfg_options)
        task = task_of(cfg)
        name = osp.splitext(osp.basename(args.target))[0]
        backbone = build_backbone(cfg)
        model = WholeModel(build_model(cfg), task) if args.whole_model else backbone
    else:
        if args.whole_model:
            sys.exit('error: --whole-model needs a config')
        backbone = model = build_backbone_spec(args.target)
        name = args.target
    candidates = [Candidate(name, model, 'model')]
    candidates += runtime_variants(name, model, args.compile, args.onnxruntime, args.shapes[0], args.tmpdir)
    kind = args.baseline or baseline_for(backbone)
    if kind and not args.no_baseline:
        if args.whole_model:
            base_cfg = copy.deepcopy(cfg)
            base_cfg.model.backbone = BASELINES[kind]
            baseline = WholeModel(build_model(base_cfg), task)
        else:
            baseline = build_baseline(kind)
        candidates.append(Candidate(BASELINE_NAMES[kind], baseline, 'baseline'))
    if args.naive:
        naive = naive_variant(model)
        if naive is None:
            print(f'note: {name} has no attention op with a naive mode')
        else:
            candidates.append(Candidate(f'{name} (naive)', naive, 'naive'))
    return candidates


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as args.tmpdir:
        run(args)


def run(args):
    candidates = build_candidates(args)
    if args.no_cache:
        for candidate in candidates:
            set_caches_enabled(candidate.model, False)
    bf16_units = cpu_bf16_support() if args.device == 'cpu' else None
    print(f'device {args.device}, {torch.get_num_threads()} threads, dtype {args.dtype}, '
          f'{"forward+backward" if args.backward else "forward"}, warm-up {args.warmup}, {args.repeats} rounds'
          + ('' if bf16_units is None else f', CPU bf16 matrix units: {bf16_units}'))
    results = benchmark(candidates, args.shapes, args.batch_sizes, args.device, args.backward, args.warmup,
                        args.repeats, DTYPES[args.dtype], memory=not args.no_memory)
    print(format_table(results))
    summary = dict(target=args.target, device=args.device, threads=torch.get_num_threads(), dtype=args.dtype,
                   cpu_bf16_units=bf16_units, backward=args.backward, results=[r.to_dict() for r in results],
                   ratios=[])
    for shape in args.shapes:
        for batch in args.batch_sizes:
            row = {r.role: r for r in results if r.shape == shape and r.batch == batch}
            ours = row['model']
            pairs = [(ours, row[role]) for role in ('baseline', 'naive') if role in row]
            pairs += [(row[role], ours) for role in RUNTIME_ROLES if role in row]  # a runtime against eager
            for mine, ref in pairs:
                summary['ratios'].append(dict(
                    shape=list(shape), batch=batch, name=mine.name, against=ref.name,
                    latency=mine.median_ms / ref.median_ms,
                    memory=(mine.peak_bytes / ref.peak_bytes) if mine.peak_bytes and ref.peak_bytes else None))
    if len(args.shapes) > 1 and not args.no_memory:
        first, last = args.shapes[0], args.shapes[-1]
        print(f'\npeak-memory growth {first[0]}x{first[1]} -> {last[0]}x{last[1]} '
              f'({last[0] * last[1] / (first[0] * first[1]):.1f}x the pixels):')
        summary['memory_growth'] = {}
        for candidate in candidates:
            peaks = [r.peak_bytes for r in results if r.name == candidate.name and r.batch == args.batch_sizes[0]]
            if None in peaks:
                continue  # ONNX Runtime: no peak measured
            growth = peaks[-1] / peaks[0]
            summary['memory_growth'][candidate.name] = growth
            print(f'  {candidate.name:<34} {growth:.2f}x')
    if args.per_block:
        x = torch.randn(args.batch_sizes[0], 3, *args.shapes[0], device=args.device)
        model = candidates[0].model
        latencies = block_latencies(model, x, args.warmup, args.repeats)
        print(f'\nper-block latency at {args.shapes[0][0]}x{args.shapes[0][1]} (median ms):')
        kinds = {}
        for block_name in sorted(latencies, key=lambda n: (n.removesuffix('.attn'), n.endswith('.attn'))):
            ms = latencies[block_name]
            is_attn = block_name.endswith('.attn')
            block = model.get_submodule(block_name.removesuffix('.attn'))
            kind = getattr(block, 'kind', None) or type(block.attn).__name__
            part = 'attention' if is_attn else 'block'
            kinds.setdefault((block_name.split('.')[0], kind, part), []).append(ms)
            print(f'  {block_name:<30} {kind:<24} {part:<9} {ms:8.2f}')
        summary['per_block_ms'] = latencies
        summary['per_stage_kind_ms'] = {f'{stage}/{kind}/{part}': statistics.mean(v)
                                        for (stage, kind, part), v in kinds.items()}
        print('  mean per stage and kind: ' + ', '.join(f'{k} {v:.2f}' for k, v in
                                                          summary['per_stage_kind_ms'].items()))
        # LaViT: an LA layer's latency over a VA layer's of the same stage (attention op and whole block).
        means = summary['per_stage_kind_ms']
        ratios = {f'{stage}/{part}': means[f'{stage}/la/{part}'] / means[f'{stage}/va/{part}']
                  for stage, kind, part in kinds if kind == 'la' and f'{stage}/va/{part}' in means}
        if ratios:
            summary['la_over_va'] = ratios
            print('  LA / VA latency per stage: ' + ', '.join(f'{k} {v:.2f}x' for k, v in ratios.items()))
            # The MAC ratio is the floor a latency ratio can reach when every op runs at the same efficiency.
            macs = attention_macs(model, x)
            per_stage = {}
            for name, value in macs.items():
                kind = model.get_submodule(name.removesuffix('.attn')).kind
                per_stage.setdefault((name.split('.')[0], kind), []).append(value)
            mac_ratios = {stage: statistics.mean(per_stage[(stage, 'la')]) / statistics.mean(per_stage[(stage, 'va')])
                          for stage, kind in per_stage if kind == 'la' and (stage, 'va') in per_stage}
            summary['la_over_va_macs'] = mac_ratios
            print('  LA / VA MACs per stage (attention): '
                  + ', '.join(f'{k} {v:.2f}x' for k, v in mac_ratios.items()))
    if args.roofline:
        summary['roofline'] = roofline(args, candidates, results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(summary, f, indent=2)
        print(f'\nwritten to {args.json}')


def roofline(args, candidates, results):
    """Achieved multiply-accumulate throughput of every measured row against the machine's matmul peaks."""
    peaks = {name: matmul_peak_gmacs(dtype, args.device) for name, dtype in
             (('fp32', torch.float32), ('bf16', torch.bfloat16))}
    passes = 3 if args.backward else 1
    print(f'\nroofline ({"training step = 3x forward MACs" if args.backward else "forward"}; measured matmul '
          f'peaks: fp32 {peaks["fp32"]:.0f}, bf16 {peaks["bf16"]:.0f} GMAC/s)')
    print(f'  {"model":<34} {"shape":>9} {"GMAC":>8} {"ms":>9} {"GMAC/s":>8} {"% fp32":>7} {"% bf16":>7}  top ops (self ms)')
    rows, models = [], {c.name: c for c in candidates}
    for result in results:
        candidate = models[result.name]
        x = torch.randn(result.batch, 3, *result.shape, device=args.device)
        macs = passes * forward_gmacs(candidate.model, x)
        achieved = macs / (result.median_ms / 1e3)
        top = top_operators(candidate.model, x, args.backward, DTYPES[args.dtype])
        rows.append(dict(name=result.name, shape=list(result.shape), batch=result.batch, gmacs=macs,
                         median_ms=result.median_ms, gmacs_per_s=achieved,
                         fraction_of_peak={k: achieved / v for k, v in peaks.items()},
                         top_operators=[dict(op=op, self_ms=ms) for op, ms in top]))
        ops = ', '.join(f'{op.removeprefix("aten::")} {ms:.0f}' for op, ms in top)
        print(f'  {result.name:<34} {result.shape[0]}x{result.shape[1]:<4} {macs:8.1f} {result.median_ms:9.1f} '
              f'{achieved:8.1f} {100 * achieved / peaks["fp32"]:6.1f}% {100 * achieved / peaks["bf16"]:6.1f}%  {ops}')
    return dict(peaks_gmacs_per_s=peaks, macs_per_step=f'{passes}x forward', rows=rows)


if __name__ == '__main__':
    main()
