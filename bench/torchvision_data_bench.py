#!/usr/bin/python3
"""The training input pipeline of crunet-bench-data, in torchvision: ImageFolder (PIL decode),
RandomResizedCrop(224, scale 0.08-1, ratio 3/4-4/3), ColorJitter (brightness 0.2, saturation
0.16, hue 0.11: about the paper's HSL noise of L +-50/255, S +-40/255, H +-20 units of 2 degrees),
RandomHorizontalFlip, ToTensor, Normalize (mean [124, 117, 104] / 255, std 1 / (0.0167 * 255)),
DataLoader(batch 32, shuffle, drop_last, num_workers N). Prints images per second (JSON with
--json). Needs Debian's python3-torchvision; run it with /usr/bin/python3.

    bench/torchvision_data_bench.py --folder DIR [--workers 2] [--batch 32] [--batches 40]
"""
import argparse
import json
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--no-hsl", action="store_true", help="leave out ColorJitter")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    steps = [transforms.RandomResizedCrop(args.size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3))]
    if not args.no_hsl:
        steps.append(transforms.ColorJitter(brightness=0.2, saturation=0.16, hue=0.11))
    steps += [
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean=[124 / 255, 117 / 255, 104 / 255], std=[1 / (0.0167 * 255)] * 3),
    ]
    dataset = datasets.ImageFolder(args.folder, transform=transforms.Compose(steps))
    extra = {"persistent_workers": True, "prefetch_factor": 2} if args.workers > 0 else {}
    loader = DataLoader(dataset, batch_size=args.batch, shuffle=True, drop_last=True,
                        num_workers=args.workers, **extra)
    torch.manual_seed(1)

    def batches():
        while True:
            for batch in loader:
                yield batch

    stream = batches()
    for _ in range(args.warmup):
        next(stream)
    start = time.perf_counter()
    for _ in range(args.batches):
        next(stream)
    seconds = time.perf_counter() - start
    images = args.batches * args.batch
    rate = images / seconds
    if args.json:
        print(json.dumps({"images_per_second": rate, "images": images, "seconds": seconds,
                          "workers": args.workers, "batch": args.batch, "size": args.size,
                          "hsl": not args.no_hsl, "torch": torch.__version__}))
    else:
        print("%d images in %.2f s: %.1f images/s (torchvision, workers %d, batch %d)"
              % (images, seconds, rate, args.workers, args.batch))


if __name__ == "__main__":
    main()
