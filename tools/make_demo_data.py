"""Generate the synthetic demo datasets (deterministic for a given seed).

    python tools/make_demo_data.py --out data/demo [--seed 0] [--num-train 600] [--num-val 120]

Writes
  <out>/coco/{train,val}/*.jpg and <out>/coco/annotations/instances_{train,val}.json
      COCO instance segmentation: rectangles, ellipses, triangles and stars of varied size, colour, position
      and overlap on textured backgrounds; polygon masks of the *visible* part of each shape.
  <out>/ade/images/{training,validation}/*.jpg and <out>/ade/annotations/{training,validation}/*.png
      the same kind of scenes as semantic label maps in ADE20K layout (0 = background, 1..4 = classes).

Train and val images are drawn from disjoint random streams.
"""
import argparse
import json
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np

CLASSES = ('rectangle', 'ellipse', 'triangle', 'star')
MIN_VISIBLE_AREA = 40  # px: instances occluded below this are dropped


def textured_background(rng: np.random.RandomState, h: int, w: int) -> np.ndarray:
    """Smooth colour gradient + sinusoidal stripes + blurred noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    gradient = rng.uniform(-60, 60, size=(2, 3))
    image = base + (yy[..., None] / h) * gradient[0] + (xx[..., None] / w) * gradient[1]
    freq, angle = rng.uniform(0.05, 0.3), rng.uniform(0, np.pi)
    stripes = np.sin(freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    image += stripes[..., None] * rng.uniform(5, 25, size=3)
    noise = cv2.GaussianBlur(rng.normal(0, 1, size=(h, w, 3)).astype(np.float32), (0, 0), rng.uniform(0.8, 3))
    image += noise * rng.uniform(10, 30)
    return np.clip(image, 0, 255).astype(np.uint8)


def shape_mask(rng: np.random.RandomState, label: int, h: int, w: int) -> np.ndarray:
    """Binary mask of one shape of class ``label`` with random size and position."""
    mask = np.zeros((h, w), np.uint8)
    size = rng.uniform(0.12, 0.45) * min(h, w)
    cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
    name = CLASSES[label]
    if name == 'rectangle':
        rw, rh = size * rng.uniform(0.6, 1.4), size * rng.uniform(0.6, 1.4)
        pts = np.array([[cx - rw / 2, cy - rh / 2], [cx + rw / 2, cy - rh / 2], [cx + rw / 2, cy + rh / 2],
                        [cx - rw / 2, cy + rh / 2]])
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    elif name == 'ellipse':
        axes = (int(size * rng.uniform(0.3, 0.6)), int(size * rng.uniform(0.3, 0.6)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    elif name == 'triangle':
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2 * np.pi / 3, 4 * np.pi / 3]) + rng.uniform(-.3, .3, 3)
        pts = np.stack([cx + size / 1.6 * np.cos(angles), cy + size / 1.6 * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    else:  # star
        angles = rng.uniform(0, 2 * np.pi) + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, size / 1.8, size / 4.2)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask


def make_scene(rng: np.random.RandomState, h: int, w: int):
    """Image, per-instance visible masks with labels, and the semantic label map."""
    image = textured_background(rng, h, w)
    semantic = np.zeros((h, w), np.uint8)
    masks: List[np.ndarray] = []
    labels: List[int] = []
    for _ in range(rng.randint(2, 6)):
        label = rng.randint(len(CLASSES))
        mask = shape_mask(rng, label, h, w)
        if mask.sum() < MIN_VISIBLE_AREA:
            continue
        colour = rng.uniform(0, 255, size=3)
        shade = 1 + 0.15 * rng.normal(size=(h, w, 1))
        painted = np.clip(colour * shade, 0, 255).astype(np.uint8)
        image[mask > 0] = painted[mask > 0]
        for earlier in masks:  # later shapes occlude earlier ones
            earlier[mask > 0] = 0
        masks.append(mask)
        labels.append(label)
        semantic[mask > 0] = label + 1
    keep = [i for i, m in enumerate(masks) if m.sum() >= MIN_VISIBLE_AREA]
    return image, [masks[i] for i in keep], [labels[i] for i in keep], semantic


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]


def write_split(rng: np.random.RandomState, out: str, split: str, count: int, size_range: Tuple[int, int]):
    coco_dir = osp.join(out, 'coco')
    ade_split = 'training' if split == 'train' else 'validation'
    for folder in (osp.join(coco_dir, split), osp.join(coco_dir, 'annotations'),
                   osp.join(out, 'ade', 'images', ade_split), osp.join(out, 'ade', 'annotations', ade_split)):
        os.makedirs(folder, exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        h, w = (int(rng.randint(size_range[0], size_range[1] + 1)) for _ in range(2))
        image, masks, labels, semantic = make_scene(rng, h, w)
        name = f'{split}_{index:05d}'
        cv2.imwrite(osp.join(coco_dir, split, name + '.jpg'), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(out, 'ade', 'images', ade_split, name + '.jpg'), image[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(out, 'ade', 'annotations', ade_split, name + '.png'), semantic)
        image_id = index + 1
        images.append(dict(id=image_id, file_name=name + '.jpg', height=h, width=w))
        for mask, label in zip(masks, labels):
            polygons = mask_to_polygons(mask)
            if not polygons:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0 = float(xs.min()), float(ys.min())
            annotations.append(
                dict(id=len(annotations) + 1, image_id=image_id, category_id=label + 1, iscrowd=0,
                     bbox=[x0, y0, float(xs.max()) + 1 - x0, float(ys.max()) + 1 - y0],
                     area=float(mask.sum()), segmentation=polygons))
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)]
    with open(osp.join(coco_dir, 'annotations', f'instances_{split}.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return len(images), len(annotations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default='data/demo', help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=600)
    parser.add_argument('--num-val', type=int, default=120)
    parser.add_argument('--min-size', type=int, default=128, help='smallest image side')
    parser.add_argument('--max-size', type=int, default=192, help='largest image side')
    args = parser.parse_args()
    for split, count, offset in (('train', args.num_train, 0), ('val', args.num_val, 1)):
        rng = np.random.RandomState([args.seed, offset])  # disjoint streams for train and val
        n_images, n_instances = write_split(rng, args.out, split, count, (args.min_size, args.max_size))
        print(f'{split}: {n_images} images, {n_instances} instances')
    print(f'demo data written to {osp.abspath(args.out)}')


if __name__ == '__main__':
    main()
