"""What Muon's Newton–Schulz costs in bfloat16 (``torch.optim.Muon``'s type) against float32, on this machine.

    python benchmarks/newton_schulz.py [--threads 1] [--repeats 50]

For the matrices of the built-in charlm transformer and of the MNIST-1D MLP, prints the milliseconds of one
orthogonalization (torch's five quintic steps) in each type and their ratio, all measured in one run, then one
paper-form Muon step over a whole model in each. Units train on one thread, so that is the default. The claims
orthogonalize in float32 (``decaylab.claims.base.NS_DTYPE``) because of this ratio on a CPU.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from stacking_strategies import milliseconds  # this folder's timing loop

from decaylab.lab.task.builtin.models import CharTransformer, mnist1d_mlp
from decaylab.optim import Muon, param_groups
from decaylab.optim.reference import NEWTON_SCHULZ, orthogonalized

SHAPES = {"charlm qkv": (192, 64), "charlm mlp": (256, 64), "charlm proj": (64, 64), "mnist1d-mlp": (100, 100)}
TYPES = ("bfloat16", "float32")


def model_step(model: torch.nn.Module, ns_dtype: str) -> Callable[[], None]:
    optimizer = Muon(param_groups(model, 1e-3, muon=True), lr=1e-2, weight_decay=1e-3, ns_dtype=ns_dtype)
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter)
    return optimizer.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'one orthogonalization':<28} {'bfloat16 ms':>12} {'float32 ms':>11} {'ratio':>6}")
    for name, shape in SHAPES.items():
        update = torch.randn(shape)
        row(f"{name} {shape[0]}x{shape[1]}", [milliseconds(orthogonalize(update, t), args.repeats) for t in TYPES])
    models = {"charlm (whole Muon step)": lambda: CharTransformer(97, 64), "mnist1d-mlp (whole step)": mnist_mlp}
    for name, make in models.items():
        torch.manual_seed(0)
        row(name, [milliseconds(model_step(make(), dtype), args.repeats) for dtype in TYPES])


def orthogonalize(update: torch.Tensor, dtype: str) -> Callable[[], object]:
    return lambda: orthogonalized(update, NEWTON_SCHULZ, 5, 1e-7, dtype)


def mnist_mlp() -> torch.nn.Module:
    return mnist1d_mlp(batchnorm=False)


def row(name: str, times: list[float]) -> None:
    print(f"{name:<28} {times[0]:>12.3f} {times[1]:>11.3f} {times[0] / times[1]:>5.1f}x")


if __name__ == "__main__":
    main()
