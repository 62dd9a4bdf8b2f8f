"""The result of one FLOPs / parameter count and its text and JSON reports."""
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

from .handles import skipped_op_note

__all__ = ['Complexity']

HW = Tuple[int, int]


@dataclass
class Complexity:
    """One count. ``flops`` in MACs; ``by_module`` maps module names (relative to the counted root, '' = root)
    to MACs; ``skipped`` maps operators fvcore had no handle for to how often they ran."""
    flops: int
    params: int
    shape: HW
    input_shape: HW
    mode: str
    task: str
    config: str = ''
    by_module: Dict[str, int] = field(default_factory=dict)
    module_params: Dict[str, int] = field(default_factory=dict)
    uncalled: List[str] = field(default_factory=list)
    by_operator: Dict[str, int] = field(default_factory=dict)
    skipped: Dict[str, int] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.

    @property
    def flops_g(self) -> float:
        return self.flops / 1e9

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    def modules_to_depth(self, depth: int) -> List[str]:
        """Module names down to ``depth`` dots-levels, in registration order, '' (the root) first."""
        return [n for n in self.module_params if n == '' or n.count('.') < depth]

    def to_dict(self, depth: int = 3) -> Dict[str, Any]:
        return {
            'config': self.config,
            'task': self.task,
            'mode': self.mode,
            'flops_g': self.flops_g,
            'params_m': self.params_m,
            'shape': list(self.shape),
            'input_shape': list(self.input_shape),
            'by_module_g': {n: self.by_module.get(n, 0) / 1e9 for n in self.modules_to_depth(depth)},
            'params_by_module_m': {n: self.module_params[n] / 1e6 for n in self.modules_to_depth(depth)},
            'by_operator_g': {op: v / 1e9 for op, v in sorted(self.by_operator.items(), key=lambda kv: -kv[1])},
            'skipped_ops': {op: {'calls': n, 'note': skipped_op_note(op)} for op, n in self.skipped.items()},
            'notes': self.notes,
            'seconds': round(self.seconds, 2),
            'convention': 'fvcore FlopCountAnalysis + mmagent handles, 1 multiply-accumulate = 1 FLOP',
        }

    def save_json(self, path: str, depth: int = 3) -> None:
        with open(path, 'w') as f:
            json.dump(self.to_dict(depth), f, indent=2)

    def format(self, depth: int = 3) -> str:
        """Summary, per-module table down to ``depth``, per-operator totals and the skipped operators."""
        total = max(self.flops, 1)
        h, w = self.shape
        lines = [f'config: {self.config}'] if self.config else []
        lines.append(f'mode: {self.mode} ({self.task}); input {h}x{w}'
                     + (f', padded to {self.input_shape[0]}x{self.input_shape[1]}'
                        if tuple(self.input_shape) != tuple(self.shape) else ''))
        lines += [f'note: {n}' for n in self.notes]
        lines += [f'FLOPs: {self.flops_g:.2f} G (multiply-accumulates)', f'params: {self.params_m:.2f} M', '']
        names = self.modules_to_depth(depth)
        width = max(len('  ' * n.count('.') + n) for n in names if n) if len(names) > 1 else 10
        width = max(width, len('module'))
        lines.append(f'{"module":<{width}}  {"params (M)":>10}  {"GFLOPs":>10}  {"%":>6}')
        uncalled = set(self.uncalled)
        for name in names:
            label = '(total)' if name == '' else '  ' * name.count('.') + name
            flops = self.by_module.get(name, 0)
            if name and not flops and not self.module_params[name]:
                continue
            gflops = 'not run' if name in uncalled else f'{flops / 1e9:.3f}'
            pct = '' if name in uncalled else f'{100 * flops / total:.1f}'
            lines.append(f'{label:<{width}}  {self.module_params[name] / 1e6:>10.3f}  {gflops:>10}  {pct:>6}')
        lines += ['', 'by operator:']
        for op, value in sorted(self.by_operator.items(), key=lambda kv: -kv[1]):
            lines.append(f'  {op:<28} {value / 1e9:>10.3f} G')
        lines += ['', 'skipped by fvcore (no FLOPs added):']
        for op, calls in sorted(self.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f'  {op:<34} x{calls:<4} {skipped_op_note(op)}')
        return '\n'.join(lines)
