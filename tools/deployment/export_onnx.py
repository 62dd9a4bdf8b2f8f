"""Export an mmagent model to ONNX with dynamic batch, height and width, and check it with ONNX Runtime.

    python tools/deployment/export_onnx.py CONFIG [CHECKPOINT] --out FILE.onnx [--shape H W]
        [--part backbone|features|model] [--opset 17] [--verify] [--cfg-options k=v ...]

--part backbone   the backbone's feature maps (any config)
--part features   backbone + neck: a detector's feature pyramid (or a segmentor's features)
--part model      a whole segmentor's logits at the input resolution (UperNet, Semantic FPN); detectors need
                  RoIAlign and NMS in the graph, which is mmdeploy's job
--verify          run ONNX Runtime at three sizes other than the export size (non-square, odd, both) and print
                  the largest difference to PyTorch per size; exit status 1 above --tolerance (1e-4)

The graph holds for inputs at least as large as the export size (Swin-family blocks drop their shift on maps
no larger than the window; an export size at which that happens is refused).
"""
import argparse
import os
import sys

from mmengine.config import DictAction

import mmagent  # noqa: F401  (registers mmagent modules and the checkpoint allow-list)
from mmagent.analysis.build import build_model
from mmagent.deploy import (PARTS, check_export_size, compare_with_onnxruntime, export_onnx, make_exportable,
                            part_of, verification_sizes)
from mmagent.utils.checkpoint import CheckpointError
from mmagent.utils.config import load_config, task_of


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='weights (mmagent/mmdet/mmseg checkpoint); random if omitted')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'),
                        help='export size (default 512 512)')
    parser.add_argument('--part', choices=PARTS, default='backbone')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--verify', action='store_true', help='compare with ONNX Runtime at three other sizes')
    parser.add_argument('--tolerance', type=float, default=1e-4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    task = task_of(cfg)
    model = build_model(cfg)
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        from mmagent.utils.checkpoint import load_checkpoint_file
        load_checkpoint_file(args.checkpoint)  # a clear error for a missing, corrupt or unsafe file
        load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    else:
        print('no checkpoint given: exporting randomly initialised weights')
    replaced = make_exportable(model)
    module = part_of(model, args.part, task)
    shape = tuple(args.shape)
    check_export_size(module, shape)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    names = export_onnx(module, args.out, shape, args.opset)
    print(f'{args.part} of {os.path.basename(args.config)} exported to {args.out} at {shape[0]}x{shape[1]} '
          f'(opset {args.opset}; dynamic batch, height, width; outputs {", ".join(names)}'
          + (f'; {replaced} AdaptiveAvgPool2d made exportable' if replaced else '') + ')')
    if not args.verify:
        return 0
    worst = 0.
    for size, diff in zip(verification_sizes(shape), compare_with_onnxruntime(args.out, module,
                                                                              verification_sizes(shape))):
        print(f'  ONNX Runtime vs PyTorch at {size[0]}x{size[1]}: max abs difference {diff:.3g}')
        worst = max(worst, diff)
    verdict = 'ok' if worst <= args.tolerance else 'FAILED'
    print(f'verify: {verdict} (largest difference {worst:.3g}, tolerance {args.tolerance:g})')
    return 0 if worst <= args.tolerance else 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
