"""Runs per minute: grid-batched (decaylab's automatic stacking) against one model at a time, in one run.

    python benchmarks/study_throughput.py [--epochs N] [--sample 12] [--tasks mnist1d-mlp,mnist1d-cnn,charlm]

On MNIST-1D, the default grid of ``decaylab study`` (its four methods, each over its 6
learning rates × 6 weight decays, one seed: 144 runs in four units of 36) is trained three
ways, for the task's own epochs (30; ``--epochs`` sets another number). On charlm, whose
epochs are long, paper AdamW's 36 cells for ``--charlm-epochs`` (1 by default), in units of
two members. The three ways:

- one at a time: a plain PyTorch loop over the configurations (an ordinary ``nn.Module``, a
  decaylab optimizer, torch's threads on every core), what a user writes first; timed on
  ``--sample`` configurations of the grid;
- one member per unit: ``decaylab study`` with ``members_per_unit=1`` (a process per core,
  no stacking), which separates what the processes bring from what stacking brings;
- grid-batched: ``decaylab study`` itself, the local executor (a process per core), every
  unit an automatically stacked model of the task's ordinary module.

It also prints the training FLOP/s achieved (matmul and convolution FLOPs counted by
``torch.utils.flop_counter``: forward and backward of every step, one forward per
evaluation) as a fraction of this machine's float32 GEMM peak, measured in the same run.
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

from decaylab.lab.execution import LocalExecutor
from decaylab.lab.runs import RunConfig
from decaylab.lab.study import DEFAULT_METHODS, StudySpec, run_study
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import load_task
from decaylab.lab.task.schedules import SCHEDULES, with_warmup
from decaylab.optim import make_optimizer, param_groups


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


def flops_per_run(task: Task, epochs: int) -> float:
    """Matmul/conv FLOPs of one run: its training steps (forward + backward) and evaluations."""
    model = task.make_model()
    x, y = task.train[0][: task.batch_size], task.train[1][: task.batch_size]
    counter = FlopCounterMode(display=False)
    with counter:
        task.objective(model(x), y).backward()
    per_step = counter.get_total_flops()
    held_out = task.held_out[1][0]
    with FlopCounterMode(display=False) as evaluation, torch.no_grad():
        model(held_out[: task.batch_size])
    per_evaluation = evaluation.get_total_flops() * len(held_out) / task.batch_size
    steps = math.ceil(len(task.train[0]) / task.batch_size) * epochs
    return steps * per_step + epochs * per_evaluation + per_evaluation * len(task.test[0]) / len(held_out)


def one_at_a_time(task: Task, run: RunConfig) -> None:
    """The run as a plain PyTorch loop: one ordinary model, scheduled lr, evaluation each epoch."""
    torch.manual_seed(run.seed)
    model = task.make_model()
    optimizer = make_optimizer(run.method, param_groups(model, run.weight_decay), lr=run.lr, betas=run.betas)
    batches = torch.Generator().manual_seed(run.seed)
    (x, y), (held_x, held_y) = task.train, task.held_out[1]
    steps = math.ceil(len(x) / run.batch_size)
    eta = with_warmup(SCHEDULES[run.schedule], run.warmup)
    for epoch in range(run.epochs):
        order = torch.randperm(len(x), generator=batches)
        for number, start in enumerate(range(0, len(x), run.batch_size)):
            index = order[start : start + run.batch_size]
            task.objective(model(x[index]), y[index]).backward()
            if run.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), run.clip)
            for group in optimizer.param_groups:
                group["lr"] = run.lr * eta(epoch * steps + number, run.epochs * steps)
            optimizer.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            for start in range(0, len(held_x), 4 * run.batch_size):
                task.objective(
                    model(held_x[start : start + 4 * run.batch_size]), held_y[start : start + 4 * run.batch_size]
                )
        model.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the task's own)")
    parser.add_argument("--sample", type=int, default=12, help="configurations timed one at a time")
    parser.add_argument("--tasks", default="mnist1d-mlp,mnist1d-cnn,charlm")
    parser.add_argument("--charlm-epochs", type=int, default=1, help="epochs for charlm (its epochs are long)")
    args = parser.parse_args()

    peak = matmul_peak()
    print(f"{torch.get_num_threads()} cores; float32 GEMM peak {peak / 1e9:.1f} GFLOP/s")
    print(f"{'task':<13} {'epochs':>6} {'way':<30} {'runs/min':>9} {'speed-up':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for name in args.tasks.split(","):
        task = load_task(name)
        epochs = args.charlm_epochs if name == "charlm" else args.epochs or task.epochs
        task = replace(task, epochs=epochs)
        spec = StudySpec(name, ("adamw",) if name == "charlm" else DEFAULT_METHODS, epochs=epochs)
        runs = spec.runs(task)
        run_flops = flops_per_run(task, epochs)
        stride = max(1, len(runs) // args.sample)
        sample = runs[::stride][: args.sample]
        start = time.perf_counter()
        for run in sample:
            one_at_a_time(task, run)
        rates = {f"one at a time ({len(sample)} sampled)": len(sample) / (time.perf_counter() - start) * 60}
        for way, members in (("one member per unit", 1), ("grid-batched (decaylab study)", task.members_per_unit)):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                run_study(
                    spec, Path(out), LocalExecutor(), progress=False, task=replace(task, members_per_unit=members)
                )
                rates[way] = len(runs) / (time.perf_counter() - start) * 60
        baseline = next(iter(rates.values()))
        for way, rate in rates.items():
            achieved = rate / 60 * run_flops
            speed = f"{rate:9.1f} {rate / baseline:8.2f}x {achieved / 1e9:8.2f} {achieved / peak:8.1%}"
            print(f"{name:<13} {epochs:>6} {way:<30} {speed}")


if __name__ == "__main__":
    main()
