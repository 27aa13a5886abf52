"""Cost of recording BatchNorm-fed weights' norm and rotation during training, measured in one run.

    python benchmarks/layer_stats_overhead.py [--task mnist1d-mlp-bn] [--epochs 3] [--rounds 3]

Trains the same 36-member unit (6 learning rates × 6 weight decays of paper AdamW) with the
recording on and off (no weight reported as BatchNorm-fed), alternating, one thread, and
prints the median times and the overhead. Target: under 10%.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from decaylab.lab.rounds import run_config
from decaylab.lab.task.loading import load_task
from decaylab.lab.training import loop as train
from decaylab.optim import METHODS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-mlp-bn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = load_task(args.task)

    runs = [
        run_config(task, "adamw", lr, d, 0, epochs=args.epochs)
        for lr in METHODS["adamw"].default_lrs
        for d in METHODS["adamw"].default_weight_decays
    ]
    recorded = train.batchnorm_fed_weights
    times: dict[str, list[float]] = {"recording": [], "not recording": []}
    for _ in range(args.rounds):
        for label, finder in (("recording", recorded), ("not recording", lambda module: [])):
            train.batchnorm_fed_weights = finder  # type: ignore[assignment]
            start = time.perf_counter()
            results = train.train_unit(task, runs)
            times[label].append(time.perf_counter() - start)
            assert bool(results[0].layers) == (label == "recording")
    train.batchnorm_fed_weights = recorded
    on, off = (statistics.median(times[k]) for k in ("recording", "not recording"))
    print(f"{args.task}, {len(runs)} members, {args.epochs} epochs, 1 thread, median of {args.rounds} rounds")
    print(f"not recording {off:.2f} s, recording {on:.2f} s: overhead {on / off - 1:+.1%}")


if __name__ == "__main__":
    main()
