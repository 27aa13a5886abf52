"""A noisy quadratic trained under torch's cosine scheduler: the set-up of the Lion and cautious-decay checks."""

import math
from collections.abc import Callable

import torch
from torch.optim import lr_scheduler


def gradient_of(centre: float) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``g = 2(w − centre) + noise_step``, the noise the same in every run and for every member of a stack."""

    def gradient(weight: torch.Tensor, step: int) -> torch.Tensor:
        noise = torch.randn(weight.shape[-2:], generator=torch.Generator().manual_seed(step), dtype=weight.dtype)
        return 2.0 * (weight - centre) + noise

    return gradient


def cosine(step: int, steps: int) -> float:
    """η_t of ``CosineAnnealingLR(T_max=steps)``, in closed form: what the formulas written in a test use."""
    return 0.5 * (1 + math.cos(math.pi * step / steps))


def trained(optimizer_of, weight: torch.Tensor, steps: int, gradient) -> torch.Tensor:
    """``weight`` after ``steps`` of ``optimizer_of([parameter])`` under ``CosineAnnealingLR(T_max=steps)``."""
    parameter = torch.nn.Parameter(weight.clone())
    optimizer = optimizer_of([parameter])
    schedule = lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for step in range(steps):
        parameter.grad = gradient(parameter.detach(), step)
        optimizer.step()
        schedule.step()
    return parameter.detach()
