"""Median step time of every decaylab rule against torch's fused AdamW and SGD, measured in one run.

    python benchmarks/optim_step.py [--params 10_000_000] [--tensors 50] [--repeats 30] [--no-compiled]

Prints, per rule and path (``auto``, the default, and ``compiled``), the median step time and
its ratio to torch's fused kernel of the same family: ``torch.optim.AdamW(fused=True)`` for
the Adam rules and Lion, ``torch.optim.SGD(momentum=0.9, fused=True)`` for the SGD rules, and
``torch.optim.Muon`` for Muon (the same parameters as square matrices, where the "fused" row is torch's
own step and the bandwidth column counts only the elementwise traffic, not Newton–Schulz); also the
fraction of the memory-bandwidth limit it reaches. An Adam step reads w, g, m, v and writes
w, m, v (28 bytes per fp32 parameter), an SGD step with momentum reads w, g, v and writes w,
v (20 bytes), as does a Lion step (w, g, m); the bandwidth is an in-place ``a += b`` over the
same working set, timed in the same rounds. Every contender is timed round-robin, one step each
per round. A compiled path's first step (the compile, or inductor's on-disk cache) is reported
separately.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

from decaylab.optim import METHODS, Lion, Muon, make_optimizer

BYTES_PER_PARAM = {"adam": 28, "sgd": 20, "lion": 20, "muon": 20}


class BandwidthProbe:
    """An in-place ``a += b`` over the same working set as the Adam step (w, g, m, v).

    In place, like an optimizer step, so no write-allocate traffic goes uncounted (``a = b + c``
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


def make_matrices(count: int, side: int, device: str) -> list[torch.nn.Parameter]:
    params = [torch.nn.Parameter(torch.randn(side, side, device=device)) for _ in range(count)]
    for p in params:
        p.grad = torch.randn_like(p)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=10_000_000)
    parser.add_argument("--tensors", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-compiled", action="store_true", help="skip the compiled paths (and their compiles)")
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

    def params() -> list[torch.nn.Parameter]:
        return make_params(args.params, args.tensors, device)

    probe = BandwidthProbe(args.params, device)
    baselines = {
        "adam": ("torch AdamW", torch.optim.AdamW(params(), fused=True)),
        "sgd": ("torch SGD", torch.optim.SGD(params(), lr=1e-2, momentum=0.9, weight_decay=1e-4, fused=True)),
    }
    contenders: dict[tuple[str, str], tuple[str, torch.optim.Optimizer | BandwidthProbe]] = {
        ("a += b", "probe"): ("adam", probe),
        ("torch AdamW", "fused"): ("adam", baselines["adam"][1]),
        ("torch AdamW", "foreach"): ("adam", torch.optim.AdamW(params(), foreach=True)),
        ("torch SGD", "fused"): ("sgd", baselines["sgd"][1]),
        ("torch SGD", "foreach"): ("sgd", torch.optim.SGD(params(), lr=1e-2, momentum=0.9, foreach=True)),
    }
    matrices = int(math.sqrt(args.params // args.tensors))  # Muon: the same parameters as square matrices
    for method, record in METHODS.items():
        muon = record.family == "muon"  # on matrices, its one path (Newton–Schulz has no compiled form here)
        for path in ("auto",) if args.no_compiled or muon else ("auto", "compiled"):
            weights = make_matrices(args.tensors, matrices, device) if muon else params()
            optimizer = make_optimizer(method, weights, lr=1e-2 if record.family == "sgd" else 1e-3,
                                       weight_decay=1e-2, momentum=0.9, implementation=path)  # fmt: skip
            contenders[(method, path)] = (record.family, optimizer)

    baselines["lion"] = baselines["adam"]  # Lion against torch's fused AdamW: what a user would run instead
    for convention in ("paper", "torch"):
        for path in ("auto",) if args.no_compiled else ("auto", "compiled"):
            lion = Lion(params(), lr=1e-4, weight_decay=1e-2, convention=convention, implementation=path)
            contenders[(f"lion-{convention}", path)] = ("lion", lion)

    baselines["muon"] = ("torch Muon", torch.optim.Muon(make_matrices(args.tensors, matrices, device), lr=1e-3))
    contenders[("torch Muon", "fused")] = ("muon", baselines["muon"][1])
    for path in ("auto", "reference"):
        muon = Muon(make_matrices(args.tensors, matrices, device), lr=1e-3, convention="torch", implementation=path)
        contenders[("muon-torch", path)] = ("muon", muon)

    first_step = {key: timed(optimizer.step) for key, (_, optimizer) in contenders.items()}  # state; compiles
    times: dict[tuple[str, str], list[float]] = {key: [] for key in contenders}
    for _ in range(args.repeats):
        for key, (_, optimizer) in contenders.items():
            times[key].append(timed(optimizer.step))
    median = {key: statistics.median(values) for key, values in times.items()}
    bandwidth = probe.bytes_moved / median.pop(("a += b", "probe"))
    where = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{args.params:,} fp32 parameters in {args.tensors} tensors, {where}")
    print(f"memory bandwidth (in-place a += b, same working set, same rounds): {bandwidth / 1e9:.1f} GB/s")
    header = f"{'rule':<13} {'path':<9} {'ms/step':>8} {'vs fused':>9} {'of bandwidth':>13}  first step"
    print(header)
    print("-" * len(header))
    for (name, path), seconds in median.items():
        family = contenders[(name, path)][0]
        fused = median[(baselines[family][0], "fused")]
        compile_note = f"  {first_step[(name, path)]:.1f} s (compile)" if path == "compiled" else ""
        print(
            f"{name:<13} {path:<9} {seconds * 1e3:8.2f} {seconds / fused:8.2f}x "
            f"{BYTES_PER_PARAM[family] * args.params / seconds / bandwidth:12.0%}{compile_note}"
        )


if __name__ == "__main__":
    main()
