"""How to run M members of one ordinary model on this machine: vmap, a loop, or one plain model each.

    python benchmarks/stacking_strategies.py [--members 36] [--threads 1]

For the MNIST-1D MLP and CNN, prints the milliseconds per member of one training step
(forward, backward, paper AdamW step with per-member learning rates; batch 100) stacked with
``vmap``, stacked as a loop over members, and for one plain model with a plain optimizer, all
measured in one run. Then one convolution layer of the CNN, forward and backward, as one
grouped convolution over the members (what vmap makes of it) and as one convolution per
member. decaylab loops over members for models with convolutions on the CPU because of it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from decaylab.lab.execution.base import keep_freed_memory
from decaylab.lab.task.builtin.models import mnist1d_cnn, mnist1d_mlp
from decaylab.lab.training.stacking import StackedModel
from decaylab.optim import make_optimizer


def milliseconds(step: Callable[[], object], repeats: int = 30) -> float:
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1e3


def stacked_step(model: torch.nn.Module, members: int, batched: bool) -> Callable[[], None]:
    x, y = torch.randn(100, 40), torch.randint(0, 10, (100,))
    stacked = StackedModel(model, members)
    stacked.batched = batched
    lr = torch.full((members,), 1e-3, dtype=torch.float64)
    optimizer = make_optimizer("adamw", stacked.param_groups(lr.clone()), lr=lr)

    def step() -> None:
        stacked.per_member(F.cross_entropy, stacked(x), y).sum().backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def plain_step(model: torch.nn.Module) -> Callable[[], None]:
    x, y = torch.randn(100, 40), torch.randint(0, 10, (100,))
    optimizer = make_optimizer("adamw", model.parameters(), lr=1e-3, weight_decay=1e-3)

    def step() -> None:
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=36)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as every unit does
    members = args.members
    print(f"ms per member and training step, M = {members}, {args.threads} thread(s)")
    print(f"{'model':<12} {'vmap':>7} {'loop':>7} {'plain':>7}")
    for name, make in (("mlp", mnist1d_mlp), ("mlp-bn", mnist1d_mlp), ("cnn", mnist1d_cnn), ("cnn-bn", mnist1d_cnn)):
        batchnorm = name.endswith("-bn")
        vmapped = milliseconds(stacked_step(make(batchnorm), members, True)) / members
        looped = milliseconds(stacked_step(make(batchnorm), members, False)) / members
        plain = milliseconds(plain_step(make(batchnorm)), repeats=200)
        print(f"{name:<12} {vmapped:7.3f} {looped:7.3f} {plain:7.3f}")

    channels, length = 25, 19
    x = torch.randn(100, members * channels, length, requires_grad=True)
    weight = torch.randn(members * channels, channels, 3, requires_grad=True)
    grouped = milliseconds(lambda: F.conv1d(x, weight, stride=2, padding=1, groups=members).sum().backward())
    inputs = [torch.randn(100, channels, length, requires_grad=True) for _ in range(members)]
    weights = [torch.randn(channels, channels, 3, requires_grad=True) for _ in range(members)]

    def separate() -> None:
        sum(F.conv1d(a, w, stride=2, padding=1).sum() for a, w in zip(inputs, weights, strict=True)).backward()

    print(f"one conv layer (25→25 channels, k = 3), {members} members, fwd + bwd: grouped "
          f"{grouped:.2f} ms, one per member {milliseconds(separate):.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
