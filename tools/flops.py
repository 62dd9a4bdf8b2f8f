"""FLOPs (G multiply-accumulates, fvcore convention) and parameters (M) of a detector / segmentor / classifier
config, its backbone, or a downstream backbone's ImageNet classification form. Conventions: docs/flops.md.

    python tools/flops.py CONFIG [--shape H W] [--backbone-only | --classification] [--json OUT]
                                 [--depth D] [--num-proposals N] [--num-classes K] [--cfg-options k=v ...]

CONFIG is a file or an installed package's config, e.g. ``mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py``.
Default input (H W): 1280 800 for mmdet configs, 512 2048 for mmseg configs, the test pipeline's size for mmpretrain
configs (configs/*/imagenet), 224 224 with --classification.
"""
import argparse
import sys
import warnings

from mmengine.config import DictAction

import mmagent  # noqa: F401  (registers mmagent's modules, so configs without custom_imports work too)
from mmagent.analysis import load_config, measure
from mmagent.utils.config import task_of


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count the FLOPs and parameters of a model config')
    parser.add_argument('config', help="config file, or 'mmdet::path.py' / 'mmseg::path.py'")
    parser.add_argument('--shape', type=int, nargs='+', metavar='N',
                        help='input H W (one value: square); default by task, see above')
    part = parser.add_mutually_exclusive_group()
    part.add_argument('--backbone-only', action='store_true', help='count the backbone alone')
    part.add_argument('--classification', action='store_true',
                      help='count the ImageNet classification form: backbone (last stage, pretraining agent '
                           'grids), global average pool, linear classifier')
    parser.add_argument('--num-classes', type=int, default=1000, help='classes of --classification (1000)')
    parser.add_argument('--num-proposals', type=int,
                        help="two-stage detectors: RoIs fed to the box head (default: the config's "
                             'test_cfg.rpn.max_per_img, 1000 for Mask R-CNN); the mask head sees the first 100')
    parser.add_argument('--depth', type=int, default=None,
                        help='module table depth (default 3; 2 for --backbone-only / --classification)')
    parser.add_argument('--json', metavar='OUT', help='write the result as JSON to OUT')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H W or a single size, got {args.shape}')
    return args


def main() -> None:
    args = parse_args()
    mode = 'classification' if args.classification else 'backbone' if args.backbone_only else 'model'
    shape = None if args.shape is None else (args.shape * 2 if len(args.shape) == 1 else args.shape)
    try:
        cfg = load_config(args.config, args.cfg_options)
        task_of(cfg)  # mmdet, mmseg or mmpretrain, else a clear message
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # deprecation chatter of the model builders
        result = measure(cfg, shape=shape, mode=mode, num_proposals=args.num_proposals,
                         num_classes=args.num_classes)
    result.config = args.config
    depth = args.depth if args.depth is not None else (3 if mode == 'model' else 2)
    print(result.format(depth))
    print(f'\n(counted in {result.seconds:.1f} s)')
    if args.json:
        result.save_json(args.json, depth)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
