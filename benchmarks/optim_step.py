"""Median CPU step time of every decaylab rule against torch.optim.AdamW, measured in one run.

    python benchmarks/optim_step.py [--params 10_000_000] [--tensors 50] [--repeats 30]

Prints, per rule and path, the median step time, its ratio to ``torch.optim.AdamW(fused=True)``
and ``(foreach=True)``, and the fraction of the memory-bandwidth limit it reaches: an Adam step
reads w, g, m, v and writes w, m, v, 28 bytes per fp32 parameter; the bandwidth is that of an
in-place ``a += b`` on the same working set, timed in the same rounds. Rules whose coefficients depend on ``D`` (AdamP)
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


class BandwidthProbe:
    """An in-place ``a += b`` over the same working set as the Adam step (w, g, m, v).

    In place, like an Adam step, so no write-allocate traffic goes uncounted (``a = b + c``
    would read ``a`` before writing it and understate the bandwidth by a quarter).
    """

    def __init__(self, params: int, device: str) -> None:
        self.a, self.b = torch.rand(2 * params, device=device), torch.rand(2 * params, device=device)
        self.bytes_moved = 3 * self.a.element_size() * self.a.numel()

    def step(self) -> None:
        self.a.add_(self.b)


def make_params(total: int, count: int, device: str) -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.randn(total // count, device=device)) for _ in range(count)]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    device = args.device

    def timed(step: Callable[[], object]) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    bytes_per_step = BYTES_PER_PARAM * args.params
    probe = BandwidthProbe(args.params, device)

    # Build every contender first, then time them round-robin, one step each per round, so
    # that drift in the machine's speed (other tenants, clocks) hits all of them alike.
    contenders: dict[tuple[str, str], torch.optim.Optimizer | BandwidthProbe] = {
        ("a += b", "probe"): probe,
        ("torch AdamW", "fused"): torch.optim.AdamW(make_params(args.params, args.tensors, device), fused=True),
        ("torch AdamW", "foreach"): torch.optim.AdamW(make_params(args.params, args.tensors, device), foreach=True),
    }
    for method in METHODS:
        fusable = make_optimizer(method, [torch.nn.Parameter(torch.ones(1))]).rule.fusable
        paths = ["auto"] if fusable else ["auto", "compiled"]
        for path in paths:
            implementation = "auto" if path == "auto" else "compiled"
            params = make_params(args.params, args.tensors, device)
            optimizer = make_optimizer(method, params, lr=1e-3, weight_decay=1e-2, implementation=implementation)
            contenders[(method, path if fusable or path == "compiled" else "per-tensor")] = optimizer

    first_step: dict[tuple[str, str], float] = {}
    for key, optimizer in contenders.items():
        first_step[key] = timed(optimizer.step)  # allocates the state, and compiles where asked
    times: dict[tuple[str, str], list[float]] = {key: [] for key in contenders}
    for _ in range(args.repeats):
        for key, optimizer in contenders.items():
            times[key].append(timed(optimizer.step))
    median = {key: statistics.median(values) for key, values in times.items()}
    fused, foreach = median[("torch AdamW", "fused")], median[("torch AdamW", "foreach")]
    bandwidth = probe.bytes_moved / median.pop(("a += b", "probe"))
    where = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.params:,} fp32 parameters in {args.tensors} tensors, {where}")
    print(f"memory bandwidth (in-place a += b, same working set, same rounds): {bandwidth / 1e9:.1f} GB/s")

    header = (
        f"{'rule':<13} {'path':<10} {'ms/step':>8} {'vs fused':>9} {'vs foreach':>11} {'of bandwidth':>13}  first step"
    )
    print(header)
    print("-" * len(header))
    for (name, path), seconds in median.items():
        compile_note = f"  {first_step[(name, path)]:.1f} s (compile)" if path == "compiled" else ""
        print(
            f"{name:<13} {path:<10} {seconds * 1e3:8.2f} {seconds / fused:8.2f}x {seconds / foreach:10.2f}x "
            f"{bytes_per_step / seconds / bandwidth:12.0%}{compile_note}"
        )


if __name__ == "__main__":
    main()
