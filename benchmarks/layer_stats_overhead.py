"""Cost of recording BatchNorm-fed weights' norm and rotation during training, measured in one run.

    python benchmarks/layer_stats_overhead.py [--task mnist1d-mlp-bn] [--epochs 3] [--rounds 3]

Trains the same 36-member unit (6 learning rates × 6 weight decays of paper AdamW) with the
recording on and off (the model's ``normalized_weights`` hidden), alternating, one thread,
and prints the median times and the overhead. Target: under 10%.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from decaylab.lab.study import DEFAULT_LRS, DEFAULT_WDS
from decaylab.lab.tasks import load_task
from decaylab.lab.train import RunConfig, train_unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist1d-mlp-bn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = load_task(args.task)

    def hide_normalized_weights(members: int) -> torch.nn.Module:
        model = task.make_model(members)
        model.normalized_weights = dict  # type: ignore[assignment]
        return model

    untracked = replace(task, make_model=hide_normalized_weights)
    runs = [
        RunConfig(task.identity, "adamw", lr, d, 0, args.epochs) for lr in DEFAULT_LRS for d in DEFAULT_WDS["adamw"]
    ]
    times: dict[str, list[float]] = {"recording": [], "not recording": []}
    for _ in range(args.rounds):
        for label, which in (("recording", task), ("not recording", untracked)):
            start = time.perf_counter()
            results = train_unit(which, runs)
            times[label].append(time.perf_counter() - start)
            assert bool(results[0].layers) == (label == "recording")
    on, off = (statistics.median(times[k]) for k in ("recording", "not recording"))
    print(f"{args.task}, {len(runs)} members, {args.epochs} epochs, 1 thread, median of {args.rounds} rounds")
    print(f"not recording {off:.2f} s, recording {on:.2f} s: overhead {on / off - 1:+.1%}")


if __name__ == "__main__":
    main()
