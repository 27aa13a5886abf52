"""A task file as users write them, whose best λ is known in closed form: linear regression with a Gaussian
prior on its weights, trained by minibatch SGD, selected on a noisy validation split.

The validation split's noise moves λ*: it has an optimum of its own, ``d·σ²/V`` from ``w*`` in squared
error, against the training set's ``d·σ²/n``. At d/V a third of d/n λ* fell 0.2 decades off; at six times
the pool it lies 0.04–0.13 decades above the Bayes value, as the validation split's own closed-form optimum
does (``docs/design-notes.md``).

``w* ~ N(0, I/d)``, ``x ~ N(0, I_d)``, ``y = x·w* + σ·ξ``. SGDL2 minimizes the mean squared error plus
``λ/2·‖w‖²``, whose minimizer is ``(XᵀX + nλ/2·I)⁻¹Xᵀy``; the posterior mean, best in expected test error,
is ``(XᵀX + d·σ²·I)⁻¹Xᵀy``. So ``λ* = 2·d·σ²/n``: exponent −1 in n (``tests/lab/test_transfer.py``
derives it at length). A cosine schedule to zero brings minibatch SGD to that minimizer.
"""

import math

import torch
from torch import nn

import decaylab

DIMENSION, NOISE, POOL, VALIDATION = 100, 1.0, 3200, 20_000


class Linear(nn.Module):
    """The model: one linear map, no bias (a class at module level, as task files have them)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, DIMENSION) / math.sqrt(DIMENSION))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T


def bayes_lambda(examples: int) -> float:
    """The best ℓ2 penalty of SGDL2 for a training set of ``examples``."""
    return 2 * DIMENSION * NOISE**2 / examples


def make_task() -> decaylab.Task:
    generator = torch.Generator().manual_seed(2024)  # not 0: seed 0 also draws the model's initial weights
    w = torch.randn(DIMENSION, 1, generator=generator) / math.sqrt(DIMENSION)

    def draw(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(count, DIMENSION, generator=generator)
        return x, x @ w + NOISE * torch.randn(count, 1, generator=generator)

    train, validation, test = draw(POOL), draw(VALIDATION), draw(VALIDATION)
    return decaylab.Task(
        "minibatch-ridge",
        train,
        test,
        Linear,
        validation=validation,
        loss=nn.functional.mse_loss,
        epochs=20,
        batch_size=100,
    )
