"""Runs per minute of the default study: grid-batched versus one model at a time, in one run.

    python benchmarks/study_throughput.py [--epochs 3] [--sample 24]

The default grid (every method's default λ grid × 6 learning rates on the default task) is
trained three ways, all for ``--epochs`` epochs:

- one at a time: a plain loop over the configurations, one model each, one process using
  every core (what a user writes first); timed on ``--sample`` configurations of the grid;
- grid-batched, one process: each (method, seed) as one stacked model;
- grid-batched, local executor: the same units on a process per core, one thread each
  (what ``decaylab study`` does).

It also prints the training FLOP/s achieved (matmul and convolution FLOPs counted by
``torch.utils.flop_counter``, forward + backward + evaluation) as a fraction of this
machine's matmul peak, measured in the same run with a large float32 GEMM on every core.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from decaylab.lab.executors import LocalExecutor
from decaylab.lab.study import StudySpec, run_study
from decaylab.lab.tasks import Task, load_task
from decaylab.lab.train import RunConfig, member_losses, train_unit


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a float32 ``size³`` GEMM on all threads (best of ``repeats``)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def flops_per_run(task: Task, run: RunConfig) -> float:
    """Matmul/conv FLOPs of one run: its training steps (forward + backward) and evaluations."""
    model = task.make_model(1)
    counter = FlopCounterMode(display=False)
    with counter:
        losses = member_losses(model(task.train_x[: run.batch_size]), task.train_y[: run.batch_size])
        losses.sum().backward()
    per_step = counter.get_total_flops()
    with counter, torch.no_grad():
        model.eval()
        model(task.test_x)
    per_evaluation = counter.get_total_flops() - per_step
    steps = math.ceil(len(task.train_x) / run.batch_size) * run.epochs
    return steps * per_step + run.epochs * per_evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=24, help="configurations timed one at a time")
    args = parser.parse_args()

    spec = replace(StudySpec(), epochs=args.epochs, seeds=1)
    task = load_task(spec.task)
    runs = spec.runs(task)
    peak = matmul_peak()
    run_flops = flops_per_run(task, runs[0])
    print(f"default grid: {len(runs)} runs of {task.name}, {args.epochs} epochs each; {torch.get_num_threads()} cores")
    print(f"matmul peak (float32 GEMM, all cores): {peak / 1e9:.1f} GFLOP/s; {run_flops / 1e9:.2f} GFLOP per run")

    stride = max(1, len(runs) // args.sample)
    sample = runs[::stride][: args.sample]
    start = time.perf_counter()
    for run in sample:
        train_unit(task, [run])
    one_at_a_time = len(sample) / (time.perf_counter() - start) * 60

    rates = {}
    for name, executor in (
        ("grid-batched, 1 process", LocalExecutor(1)),
        ("grid-batched, local executor", LocalExecutor()),
    ):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_study(spec, Path(out), executor, progress=False)
            rates[name] = len(runs) / (time.perf_counter() - start) * 60

    print(f"{'way':<32} {'runs/min':>9} {'speed-up':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for name, rate in {f"one at a time ({len(sample)} sampled)": one_at_a_time, **rates}.items():
        achieved = rate / 60 * run_flops
        print(f"{name:<32} {rate:9.1f} {rate / one_at_a_time:8.2f}x {achieved / 1e9:8.2f} {achieved / peak:8.1%}")


if __name__ == "__main__":
    main()
