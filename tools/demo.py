"""The mmagent demo: train Mask R-CNN with an mmagent backbone on generated data, evaluate it, show it.

    python tools/demo.py [--work-dir work_dirs/demo] [--max-iters N]      (``make demo`` runs this)

1. generates the synthetic shapes dataset (tools/make_demo_data.py) unless it is already there;
2. trains configs/demo/mask-rcnn_agent-pvt-t_fpn_demo.py with tools/train.py on the CPU;
3. evaluates the last checkpoint on the val split with tools/test.py (COCO box and mask mAP) and paints the
   predictions;
4. plots the training loss, and prints the numbers and where everything is.

``--precision auto`` (the default) trains and tests with bf16 autocast (``--amp``) when the CPU has bf16 matrix
units (AMX or AVX512-BF16, detected at run time) and in fp32 elsewhere, where bf16 is emulated and slower; the
summary says which ran. ``--precision fp32`` / ``amp`` force one.
"""
import argparse
import glob
import json
import os.path as osp
import subprocess
import sys
import time
from typing import Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join('configs', 'demo', 'mask-rcnn_agent-pvt-t_fpn_demo.py')


def run(cmd):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def latest(pattern):
    paths = sorted(glob.glob(pattern), key=osp.getmtime)
    return paths[-1] if paths else None


def plot_losses(work_dir: str, out_png: str) -> bool:
    scalars = latest(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    if scalars is None:
        return False
    records = []
    with open(scalars) as f:
        for line in f:
            entry = json.loads(line)
            if 'loss' in entry and 'iter' in entry:
                records.append(entry)
    if not records:
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    iters = [r['iter'] for r in records]
    for key in ('loss', 'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'):
        if key in records[0]:
            ax.plot(iters, [r[key] for r in records], label=key, linewidth=2 if key == 'loss' else 1)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title('Mask R-CNN + Agent-PVT-T on the demo shapes')
    ax.grid(alpha=.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return True


def choose_precision(requested: str) -> Tuple[bool, str]:
    """(use ``--amp``, what runs and why) for ``--precision``: 'auto' takes mixed precision only on a CPU that
    runs bf16 natively (train.py / test.py ``--amp`` is bf16 autocast on the CPU, fp16 on CUDA)."""
    import torch

    from mmagent.analysis.benchmark import cpu_bf16_support
    cuda = torch.cuda.is_available()
    units = 'CUDA device' if cuda else f'CPU bf16 units: {cpu_bf16_support()}'
    if requested == 'auto':
        if cuda:
            return False, 'fp32 (auto: CUDA device; --precision amp for fp16)'
        if units.endswith('none'):
            return False, 'fp32 (auto: the CPU has no bf16 matrix units, bf16 would be emulated and slower)'
        return True, f'bf16 autocast (auto: {units})'
    if requested == 'amp':
        return True, f'{"fp16" if cuda else "bf16"} autocast (requested; {units})'
    return False, f'fp32 (requested; {units})'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join('data', 'demo'))
    parser.add_argument('--max-iters', type=int, help='override the number of training iterations')
    parser.add_argument('--precision', choices=('auto', 'fp32', 'amp'), default='auto',
                        help='amp: --amp of train.py and test.py (bf16 autocast on the CPU); auto: amp where the '
                             'CPU has bf16 matrix units, fp32 elsewhere')
    args = parser.parse_args()
    use_amp, precision = choose_precision(args.precision)
    print(f'precision: {precision}', flush=True)
    amp = ['--amp'] if use_amp else []
    start = time.time()
    python = sys.executable
    work_dir = osp.join(REPO, args.work_dir) if not osp.isabs(args.work_dir) else args.work_dir

    if not osp.exists(osp.join(REPO, args.data_root, 'coco', 'annotations', 'instances_val.json')):
        run([python, 'tools/make_demo_data.py', '--out', args.data_root])

    train_cmd = [python, 'tools/train.py', args.config, '--work-dir', work_dir]
    options = [f"train_dataloader.dataset.data_root={args.data_root}/coco/",
               f"val_dataloader.dataset.data_root={args.data_root}/coco/",
               f"test_dataloader.dataset.data_root={args.data_root}/coco/",
               f"val_evaluator.ann_file={args.data_root}/coco/annotations/instances_val.json",
               f"test_evaluator.ann_file={args.data_root}/coco/annotations/instances_val.json"]
    if args.max_iters:
        options += [f'train_cfg.max_iters={args.max_iters}']
    # no validation during training: step 3 evaluates the final checkpoint
    run(train_cmd + amp + ['--cfg-options'] + options + ['train_cfg.val_begin=1000000'])
    train_done = time.time()

    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    run([python, 'tools/test.py', args.config, checkpoint, '--work-dir', work_dir, '--show-dir', 'predictions']
        + amp + ['--cfg-options'] + [o for o in options if o.startswith(('test_', 'val_'))])

    metrics_file = latest(osp.join(work_dir, '*', '*.json'))
    with open(metrics_file) as f:
        metrics = json.load(f)
    prediction_dir = latest(osp.join(work_dir, '*', 'predictions'))
    loss_png = osp.join(work_dir, 'loss_curve.png')
    plotted = plot_losses(work_dir, loss_png)

    print('\n' + '=' * 72)
    print('mmagent demo: Mask R-CNN + Agent-PVT-T, trained from scratch on the CPU')
    print(f"  box  mAP {metrics['coco/bbox_mAP']:.3f}   mAP@0.5 {metrics['coco/bbox_mAP_50']:.3f}   "
          f"mAP@0.75 {metrics['coco/bbox_mAP_75']:.3f}")
    print(f"  mask mAP {metrics['coco/segm_mAP']:.3f}   mAP@0.5 {metrics['coco/segm_mAP_50']:.3f}   "
          f"mAP@0.75 {metrics['coco/segm_mAP_75']:.3f}")
    print(f'  precision: {precision}')
    print(f'  time: training {train_done - start:.0f} s, total {time.time() - start:.0f} s')
    print(f'  checkpoint:       {checkpoint}')
    print(f'  predictions:      {prediction_dir}')
    if plotted:
        print(f'  loss curve:       {loss_png}')
    print(f'  metrics:          {metrics_file}')
    print('=' * 72)


if __name__ == '__main__':
    main()
