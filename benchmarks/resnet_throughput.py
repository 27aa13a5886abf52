"""Grid-batched ResNet-20 on generated CIFAR-format data: member-images per second by stack size.

    python benchmarks/resnet_throughput.py [--device cuda] [--members 1,4,16] [--images 2560]

Builds a CIFAR-10-format archive (random images, the real file layout), loads it through
decaylab's loader, and trains one epoch of a stacked ResNet-20 (BatchNorm, crop + flip) with
``M`` members for each ``M``. Prints the seconds per unit, the member-images per second, and
the speed-up over training the ``M`` models one at a time (``M = 1``), measured in one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1]))
from decaylab.lab.runs import RunConfig
from decaylab.lab.task.builtin import datasets
from decaylab.lab.task.builtin.models import ResNet20
from decaylab.lab.task.contract import Task
from decaylab.lab.training.loop import train_unit
from tests.lab.cifar_archive import make_cifar_archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--members", default="1,4,16")
    parser.add_argument("--images", type=int, default=3072, help="training images, 512 held out (÷5 per batch file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        md5 = make_cifar_archive(Path(directory), images_per_batch=args.images // 5)
        data = datasets.cifar10(Path(directory), md5=md5, validation=512)
    train_x = data.train[0]
    task = Task(
        "cifar-format", data.train, data.test, lambda: ResNet20(batchnorm=True), validation=data.validation,
        epochs=1, batch_size=128, augment=datasets.random_crop_flip,
    )  # fmt: skip
    print(f"ResNet-20 (BN), {len(train_x)} generated CIFAR-format images, batch 128, 1 epoch, {args.device}")
    print(f"{'members':>8} {'s/unit':>8} {'member-img/s':>13} {'vs one at a time':>17}")
    single = None
    for members in (int(m) for m in args.members.split(",")):
        runs = [RunConfig("cifar-format", "adamw", 1e-3 * (1 + i), 1e-4, 0, 1, batch_size=128) for i in range(members)]
        train_unit(task, runs[:1], device=args.device)  # warm-up: allocator, kernels
        if args.device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train_unit(task, runs, device=args.device)
        if args.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rate = members * len(train_x) / seconds
        single = single or rate
        print(f"{members:8d} {seconds:8.2f} {rate:13.0f} {rate / single:16.2f}x")


if __name__ == "__main__":
    main()
