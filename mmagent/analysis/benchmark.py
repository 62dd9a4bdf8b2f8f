"""Speed and memory of backbones (or whole models) against baselines run in the same process.

Every candidate is timed interleaved with the others (one run of each per round, after warm-up, the order
rotated every round), so slow drifts of the machine affect all of them alike; the figure reported is the
median over rounds. Peak memory
is measured in a separate run per candidate: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the
peak of the allocator's live bytes, reconstructed from the profiler's allocation events (the same
measurement for every candidate).

Baselines: the mmdet backbone a model names as its ``benchmark_baseline`` (mmdet's ``SwinTransformer``, Swin-T,
for the Swin skeleton; ``PyramidVisionTransformer``, PVT-T, for the pyramid ones), and the naive (official,
literal) form of our attention ops (``attn_mode='naive'``).

Runtimes (:func:`runtime_variants`): the same model under ``torch.compile`` (Inductor, compiled at the first
warm-up call, which is not timed) and exported to ONNX and run by ONNX Runtime (forward only, as many threads as
PyTorch uses); their ratios are read against the eager model.
"""
import copy
import statistics
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.api import attention_blocks, set_attention_mode
from ..models.layers.workspace_attention import cpu_bf16_support

__all__ = [
    'BASELINES', 'Candidate', 'Measurement', 'build_backbone_spec', 'baseline_for', 'naive_variant',
    'cpu_peak_bytes', 'benchmark', 'block_latencies', 'attention_macs', 'format_table', 'OnnxRuntimeModel',
    'runtime_variants', 'RUNTIME_ROLES', 'cpu_bf16_support'
]

# mmdet's own backbones at the T size (PVTv2: B1, and B2 for the B2-deep models), as in mmdet's configs.
BASELINES: Dict[str, dict] = {
    'swin': dict(type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                 window_size=7, mlp_ratio=4, qkv_bias=True, drop_path_rate=0., out_indices=(0, 1, 2, 3)),
    'pvt': dict(type='PyramidVisionTransformer', num_layers=[2, 2, 2, 2], drop_path_rate=0.),
    'pvtv2': dict(type='PyramidVisionTransformerV2', embed_dims=64, num_layers=[2, 2, 2, 2], drop_path_rate=0.),
    'pvtv2_b2': dict(type='PyramidVisionTransformerV2', embed_dims=64, num_layers=[3, 4, 6, 3], drop_path_rate=0.),
}
BASELINE_NAMES = {'swin': 'mmdet Swin-T', 'pvt': 'mmdet PVT-T', 'pvtv2': 'mmdet PVTv2-B1', 'pvtv2_b2': 'mmdet PVTv2-B2'}


@dataclass
class Candidate:
    name: str
    model: nn.Module
    role: str  # 'model', 'baseline', 'naive', or a runtime of the model: 'compiled', 'onnxruntime'


@dataclass
class Measurement:
    name: str
    role: str
    shape: Tuple[int, int]
    batch: int
    times_s: List[float] = field(default_factory=list)
    peak_bytes: Optional[int] = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_s) * 1e3

    @property
    def images_per_s(self) -> float:
        return self.batch / statistics.median(self.times_s)

    def to_dict(self) -> Dict[str, Any]:
        return dict(name=self.name, role=self.role, shape=list(self.shape), batch=self.batch,
                    median_ms=round(self.median_ms, 3), images_per_s=round(self.images_per_s, 3),
                    peak_mb=None if self.peak_bytes is None else round(self.peak_bytes / 2**20, 2),
                    times_ms=[round(t * 1e3, 3) for t in self.times_s])


def _split_top_level(text: str, sep: str = ',') -> List[str]:
    """Split on ``sep`` outside brackets: 'A:t,depths=(1, 1),x=2' -> ['A:t', 'depths=(1, 1)', 'x=2']."""
    parts, depth, current = [], 0, ''
    for char in text:
        depth += char in '([{'
        depth -= char in ')]}'
        if char == sep and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    return parts + [current]


def build_backbone_spec(spec: str) -> nn.Module:
    """A registered backbone from ``'Type[:arch][,key=value,...]'``, e.g. ``'AgentSwinTransformer:t'`` or
    ``'LaViT:s,dp_cfg=None'``; ``'mmdet.SwinTransformer'`` style names pick a registry."""
    import ast

    from mmengine.registry import DefaultScope

    from ..registry import MMDET_MODELS, MMSEG_MODELS
    head, *options = _split_top_level(spec)
    type_name, _, arch = head.partition(':')
    scope, _, bare = type_name.rpartition('.')
    registry = MMSEG_MODELS if scope == 'mmseg' else MMDET_MODELS
    cfg: Dict[str, Any] = dict(type=bare)
    if arch:
        cfg['arch'] = arch
    for option in options:
        key, _, value = option.partition('=')
        try:
            cfg[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            cfg[key.strip()] = value.strip()
    if registry.get(bare) is None:
        raise ValueError(f'unknown backbone type {bare!r} in {spec!r}')
    with DefaultScope.overwrite_default_scope(scope or 'mmdet'):
        return registry.build(cfg)


def baseline_for(model: nn.Module) -> Optional[str]:
    """The key of :data:`BASELINES` that ``model`` declares as its ``benchmark_baseline`` (None if none)."""
    return getattr(model, 'benchmark_baseline', None) or None


def build_baseline(kind: str) -> nn.Module:
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(copy.deepcopy(BASELINES[kind]))


def naive_variant(model: nn.Module) -> Optional[nn.Module]:
    """A copy of ``model`` whose attention ops compute in their naive (official, literal) form, or None if
    the model has no op with a naive mode."""
    variant = copy.deepcopy(model)
    return variant if set_attention_mode(variant, 'naive') else None


RUNTIME_ROLES = ('compiled', 'onnxruntime')


class OnnxRuntimeModel(nn.Module):
    """``model`` exported to ONNX (dynamic batch, H and W; :func:`mmagent.deploy.export_onnx`) and run by an ONNX
    Runtime CPU session with ``torch.get_num_threads()`` intra-op threads; ``forward`` takes and returns
    tensors. Inference only."""

    def __init__(self, model: nn.Module, shape: Tuple[int, int], path: str) -> None:
        super().__init__()
        import onnxruntime

        from ..deploy import export_onnx, part_of
        export_onnx(part_of(model, 'backbone', 'mmdet').eval(), path, shape)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        if self.training:
            raise RuntimeError('ONNX Runtime runs inference only: leave out --backward')
        return [torch.from_numpy(out) for out in self.session.run(None, {'input': x.detach().cpu().numpy()})]


def runtime_variants(name: str, model: nn.Module, compile: bool, onnxruntime: bool, shape: Tuple[int, int],
                     workdir: str) -> List[Candidate]:
    """The runtimes of ``model`` to time next to its eager form: ``torch.compile`` (default Inductor options;
    same parameters) and ONNX Runtime (exported at ``shape`` into ``workdir``)."""
    import os.path as osp
    variants = []
    if compile:
        from ..utils.inductor_fix import install_inductor_stride_order_fix
        install_inductor_stride_order_fix()
        variants.append(Candidate(f'{name} (compiled)', torch.compile(model), 'compiled'))
    if onnxruntime:
        path = osp.join(workdir, 'benchmark.onnx')
        variants.append(Candidate(f'{name} (onnxruntime)', OnnxRuntimeModel(model, shape, path), 'onnxruntime'))
    return variants


def matmul_peak_gmacs(dtype: torch.dtype = torch.float32, device: str = 'cpu', max_size: int = 2048,
                      repeats: int = 5) -> float:
    """Measured matmul throughput of this machine, in G multiply-accumulates per second: the best of ``repeats``
    square products, the practical peak a dense model can approach. Linear layers (``F.linear``) and matmuls can
    take different kernels (on a CPU without bf16 units, bf16 ``F.linear`` goes to oneDNN and a bf16 matmul to a
    far slower fallback): the faster one is the peak. For each, the size doubles from 256 up to ``max_size``
    while a product takes under 50 ms, so a slow path is measured in seconds, not minutes."""

    def best_gmacs(product: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], size: int, rounds: int) -> float:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        product(a, b)  # warm-up
        best = float('inf')
        for _ in range(rounds):
            start = time.perf_counter()
            product(a, b)
            if a.is_cuda:
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
        return size**3 / best / 1e9

    peaks = []
    for product in (torch.matmul, F.linear):
        size = 256
        while size < max_size and size**3 / best_gmacs(product, size, 1) / 1e9 < 0.05:
            size *= 2
        peaks.append(best_gmacs(product, size, repeats))
    return max(peaks)


def forward_gmacs(model: nn.Module, x: torch.Tensor) -> float:
    """Multiply-accumulates of one forward, counted by the FLOPs tool's convention (fvcore + mmagent's handles),
    in G; the model's train/eval mode is restored afterwards."""
    from .flops import count_flops
    training = model.training
    model.eval()
    try:
        return count_flops(model, (x, )).total() / 1e9
    finally:
        model.train(training)


def top_operators(model: nn.Module, x: torch.Tensor, backward: bool, autocast: Optional[torch.dtype],
                  count: int = 5) -> List[Tuple[str, float]]:
    """The ``count`` operators with the most self time in one (training) step: (name, ms). One unprofiled step
    first, so that inference caches (resized biases and encodings) are as in the timed rounds."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.is_cuda else [])
    _step(model, x, backward, autocast)
    with profile(activities=activities) as prof:
        _step(model, x, backward, autocast)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [(e.key, e.self_cpu_time_total / 1e3) for e in events[:count]]


def cpu_peak_bytes(run: Callable[[], Any]) -> int:
    """Peak live bytes of the CPU allocator during ``run()``, from the profiler's allocation events."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == '[memory]' and e.device_type() in (DeviceType.CPU, DeviceType.MKLDNN)]
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak


def _first_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (list, tuple)):
        return _first_tensor(out[-1])
    if isinstance(out, dict):
        return _first_tensor(list(out.values())[-1])
    raise TypeError(f'cannot find a tensor in the output {type(out).__name__}')


def _loss(out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out.float().mean()
    if isinstance(out, (list, tuple)):
        return sum(_loss(o) for o in out)
    if isinstance(out, dict):
        return sum(_loss(o) for o in out.values())
    return torch.zeros(())


def _step(model: nn.Module, x: torch.Tensor, backward: bool, autocast: Optional[torch.dtype]) -> None:
    cast = torch.autocast(x.device.type, dtype=autocast) if autocast is not None else nullcontext()
    if backward:
        model.zero_grad(set_to_none=True)
        with cast:
            out = model(x)
        _loss(out).backward()
    else:
        with torch.inference_mode(), cast:
            model(x)
    if x.is_cuda:
        torch.cuda.synchronize()


def benchmark(candidates: Sequence[Candidate],
              shapes: Sequence[Tuple[int, int]],
              batch_sizes: Sequence[int],
              device: str = 'cpu',
              backward: bool = False,
              warmup: int = 2,
              repeats: int = 5,
              autocast: Optional[torch.dtype] = None,
              memory: bool = True,
              log: Callable[[str], None] = print) -> List[Measurement]:
    """Time (and measure the peak memory of) every candidate at every shape and batch size."""
    results: List[Measurement] = []
    for candidate in candidates:
        candidate.model.to(device)
        candidate.model.train(backward)
    for shape in shapes:
        for batch in batch_sizes:
            x = torch.randn(batch, 3, *shape, device=device, generator=None)
            row = [Measurement(c.name, c.role, tuple(shape), batch) for c in candidates]
            for _ in range(warmup):
                for candidate in candidates:
                    _step(candidate.model, x, backward, autocast)
            pairs = list(zip(candidates, row))
            for round_index in range(repeats):
                # rotate the order every round: no candidate always runs first or after the same one
                shift = round_index % len(pairs)
                for candidate, measurement in pairs[shift:] + pairs[:shift]:
                    start = time.perf_counter()
                    _step(candidate.model, x, backward, autocast)
                    measurement.times_s.append(time.perf_counter() - start)
            if memory:
                for candidate, measurement in zip(candidates, row):
                    if candidate.role == 'onnxruntime':
                        continue  # ONNX Runtime allocates outside PyTorch: no comparable figure
                    if device.startswith('cuda'):
                        torch.cuda.empty_cache()
                        torch.cuda.reset_peak_memory_stats()
                        before = torch.cuda.memory_allocated()
                        _step(candidate.model, x, backward, autocast)
                        measurement.peak_bytes = torch.cuda.max_memory_allocated() - before
                    else:
                        measurement.peak_bytes = cpu_peak_bytes(
                            lambda: _step(candidate.model, x, backward, autocast))
            for measurement in row:
                log(f'  {measurement.name:<34} {shape[0]}x{shape[1]} b{batch}: {measurement.median_ms:9.1f} ms'
                    + ('' if measurement.peak_bytes is None else f', peak {measurement.peak_bytes / 2**20:8.1f} MB'))
            results += row
    return results


@contextmanager
def _timed_blocks(blocks: Dict[str, nn.Module], times: Dict[str, List[float]]) -> Iterator[None]:
    handles = []
    for name, block in blocks.items():
        def pre(module, args, _name=name):
            module._bench_start = time.perf_counter()

        def post(module, args, output, _name=name):
            times.setdefault(_name, []).append(time.perf_counter() - module._bench_start)

        handles += [block.register_forward_pre_hook(pre), block.register_forward_hook(post)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def block_latencies(model: nn.Module, x: torch.Tensor, warmup: int = 2, repeats: int = 5) -> Dict[str, float]:
    """Median forward latency (ms) of every attention block of ``model`` and of the block's attention
    module (``'<block>.attn'``), keyed by module name."""
    blocks = attention_blocks(model)
    blocks.update({f'{name}.attn': block.attn for name, block in list(blocks.items())})
    times: Dict[str, List[float]] = {}
    model.eval()
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        with _timed_blocks(blocks, times):
            for _ in range(repeats):
                model(x)
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def attention_macs(model: nn.Module, x: torch.Tensor) -> Dict[str, int]:
    """Multiply-accumulates of every block's attention op at this input (fvcore convention, as tools/flops.py),
    keyed ``'<block>.attn'`` like :func:`block_latencies`: the compute floor that its latency is read against."""
    from .flops import count_flops  # fvcore is only needed here
    attns = {f'{name}.attn': m.attn for name, m in attention_blocks(model).items()}
    calls: Dict[str, tuple] = {}
    handles = [attn.register_forward_pre_hook(lambda module, args, _name=name: calls.setdefault(_name, args))
               for name, attn in attns.items()]
    model.eval()
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    macs = {}
    for name, args in calls.items():
        while args and args[-1] is None:  # an optional input left out (a VA layer without RAD residual)
            args = args[:-1]
        # clone: the captured inputs are inference tensors, which the tracer cannot record outside inference_mode
        args = tuple(a.clone() if torch.is_tensor(a) else a for a in args)
        macs[name] = int(count_flops(attns[name], args).total())
    return macs


def format_table(results: Sequence[Measurement]) -> str:
    """A table with, per shape and batch, each candidate's figures and its ratios to the baseline, to the
    naive form and (for a runtime of the model) to the eager model (latency, peak memory)."""
    lines = [f'{"candidate":<34} {"input":>10} {"batch":>5} {"median ms":>10} {"img/s":>8} {"peak MB":>9} '
             f'{"vs baseline (time, mem)":>24} {"vs naive (time, mem)":>22} {"vs eager (time, mem)":>22}']
    keys = sorted({(m.shape, m.batch) for m in results}, key=lambda k: (k[0][0] * k[0][1], k[1]))
    for key in keys:
        row = [m for m in results if (m.shape, m.batch) == key]
        base = next((m for m in row if m.role == 'baseline'), None)
        naive = next((m for m in row if m.role == 'naive'), None)
        eager = next((m for m in row if m.role == 'model'), None)
        for m in row:
            def ratio(ref):
                if ref is None or ref is m:
                    return '-'
                mem = (f'{m.peak_bytes / ref.peak_bytes:.2f}x' if m.peak_bytes and ref.peak_bytes else '-')
                return f'{m.median_ms / ref.median_ms:.2f}x, {mem}'
            peak = '-' if m.peak_bytes is None else f'{m.peak_bytes / 2**20:.1f}'
            lines.append(f'{m.name:<34} {m.shape[0]:>4}x{m.shape[1]:<5} {m.batch:>5} {m.median_ms:>10.1f} '
                         f'{m.images_per_s:>8.2f} {peak:>9} {ratio(base):>24} {ratio(naive):>22} '
                         f'{ratio(eager if m.role in RUNTIME_ROLES else None):>22}')
    return '\n'.join(lines)
