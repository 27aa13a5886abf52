"""Median CPU step time of every decaylab rule against torch.optim.AdamW, measured in one run.

    python benchmarks/optim_step.py [--params 10_000_000] [--tensors 50] [--repeats 30]

Prints, per rule and path, the median step time, its ratio to ``torch.optim.AdamW(fused=True)``
and ``(foreach=True)``, and the fraction of the memory-bandwidth limit it reaches: an Adam step
reads w, g, m, v and writes w, m, v, 28 bytes per fp32 parameter; the bandwidth is that of a
large in-place ``a += b`` measured in the same run. Rules whose coefficients depend on ``D`` (AdamP)
or that end with a prox (ℓ1) are not fusable and are also timed with
``implementation="compiled"``, whose one-off compile time is reported separately.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from decaylab.optim import METHODS, make_optimizer

BYTES_PER_PARAM = 28


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def memory_bandwidth(repeats: int) -> float:
    """Bytes per second of an in-place ``a += b`` over 2 × 256 MiB (reads a, b; writes a).

    In place, like an Adam step, so no write-allocate traffic goes uncounted (``a = b + c``
    would read ``a`` before writing it and understate the bandwidth by a quarter).
    """
    n = 64 * 2**20
    a, b = torch.rand(n), torch.rand(n)
    seconds = median_seconds(lambda: a.add_(b), repeats)
    return 3 * 4 * n / seconds


def make_params(total: int, count: int) -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.randn(total // count)) for _ in range(count)]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    bandwidth = memory_bandwidth(args.repeats)
    bytes_per_step = BYTES_PER_PARAM * args.params
    print(f"{args.params:,} fp32 parameters in {args.tensors} tensors, {torch.get_num_threads()} threads")
    print(f"measured memory bandwidth (in-place a += b): {bandwidth / 1e9:.1f} GB/s")

    def time_optimizer(make: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]) -> tuple[float, float]:
        params = make_params(args.params, args.tensors)
        optimizer = make(params)
        start = time.perf_counter()
        optimizer.step()  # the first step allocates state (and compiles, if asked)
        first = time.perf_counter() - start
        return median_seconds(optimizer.step, args.repeats), first

    fused, _ = time_optimizer(lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2, fused=True))
    foreach, _ = time_optimizer(lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2, foreach=True))

    header = (
        f"{'rule':<13} {'path':<9} {'ms/step':>8} {'vs fused':>9} {'vs foreach':>11} {'of bandwidth':>13}  first step"
    )
    print(header)
    print("-" * len(header))

    def row(name: str, path: str, seconds: float, first: float | None = None) -> None:
        first_note = f"  {first:.1f} s (compile)" if first is not None else ""
        print(
            f"{name:<13} {path:<9} {seconds * 1e3:8.2f} {seconds / fused:8.2f}x {seconds / foreach:10.2f}x "
            f"{bytes_per_step / seconds / bandwidth:12.0%}{first_note}"
        )

    row("torch AdamW", "fused", fused)
    row("torch AdamW", "foreach", foreach)
    for method in METHODS:
        seconds, _ = time_optimizer(lambda p, m=method: make_optimizer(m, p, lr=1e-3, weight_decay=1e-2))
        optimizer_rule = make_optimizer(method, [torch.nn.Parameter(torch.ones(1))]).rule
        row(method, "auto" if optimizer_rule.fusable else "per-tensor", seconds)
        if not optimizer_rule.fusable:
            seconds, first = time_optimizer(
                lambda p, m=method: make_optimizer(m, p, lr=1e-3, weight_decay=1e-2, implementation="compiled")
            )
            row(method, "compiled", seconds, first)


if __name__ == "__main__":
    main()
