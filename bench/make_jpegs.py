#!/usr/bin/python3
"""Writes a folder of random-content JPEGs (500x375, as ImageNet's typical photo) in a few class
sub-folders, for the data-pipeline benchmark (bench/data_vs_torchvision.sh).

The content is smooth random colour fields with fine noise on top, so that the files have roughly
the size and entropy of photographs (about 60-90 KB at quality 90) rather than the incompressible
bytes of pure noise. Needs numpy and PIL (Debian: python3-numpy python3-pil).

    bench/make_jpegs.py OUT_DIR [--classes 4] [--per-class 128] [--seed 0]
"""
import argparse
import os

import numpy as np
from PIL import Image


def random_photo(rng, width=500, height=375):
    # Low-frequency colour field: a coarse random grid upsampled bilinearly.
    coarse = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BILINEAR), np.float32)
    # Mid-frequency structure: a few random stripes and blobs.
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.3)
        field += rng.uniform(10, 40) * np.sin(fx * x + fy * y + phase)[..., None]
    # Fine noise, as sensor noise and texture.
    field += rng.normal(0, 12, size=field.shape)
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--per-class", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    total = 0
    for c in range(args.classes):
        folder = os.path.join(args.out_dir, "class_%02d" % c)
        os.makedirs(folder, exist_ok=True)
        for i in range(args.per_class):
            path = os.path.join(folder, "img_%05d.jpg" % i)
            random_photo(rng).save(path, quality=args.quality)
            total += os.path.getsize(path)
    count = args.classes * args.per_class
    print("%s: %d JPEGs of 500x375 in %d classes, %.0f KB each on average"
          % (args.out_dir, count, args.classes, total / count / 1024))


if __name__ == "__main__":
    main()
