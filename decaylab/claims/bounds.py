"""Decoupled decay bounds the weights; ℓ2 in the gradient does not: the equilibrium-norm claims for Muon and
Lion (the post's theme, for today's optimizers).

A decoupled step ``w_t = (1 − lr_t·λ)·w_{t−1} − lr_t·u_t`` with ``‖u_t‖ ≤ c`` in some norm keeps ``‖w‖ ≤ c/λ``
(torch units): if ``‖w_{t−1}‖ ≤ c/λ``, then ``‖w_t‖ ≤ (1 − lr_t·λ)·c/λ + lr_t·c = c/λ``, at any schedule, and a
weight that starts outside shrinks towards the ball by ``1 − lr_t·λ`` a step. Lion's step is a sign,
``‖u‖_∞ = 1`` (Chen et al. 2023, Algorithm 2; Chen, Liu et al. 2023 read Lion as solving a problem constrained to
``‖w‖_∞ ≤ 1/λ``). Muon's is ``r·O`` with ``O`` Newton–Schulz's orthogonalization, whose singular values torch's
quintic keeps below :data:`NEWTON_SCHULZ_SUP` (Chen, Li & Liu 2025 read Muon with decoupled decay as solving a
problem constrained in the spectral norm). With ℓ2 in the gradient the penalty enters before the
normalization, and nothing of the kind follows. Each claim trains the decoupled and the ℓ2 form at the same
``λ`` values and records the largest norm at every epoch (:mod:`decaylab.lab.training.probes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Verdict, not_measured
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import MIN_SEEDS

NEWTON_SCHULZ_SUP = 1.2024
"""The largest singular value torch's quintic (``3.4445, −4.7750, 2.0315``, 5 steps) gives a matrix whose singular
values lie in ``(0, 1]``: the supremum of the polynomial iterated five times, computed on a grid of 2·10⁶
points. In bfloat16 the largest measured on random matrices was 1.14."""
TOLERANCE = 0.02
"""A ratio up to ``1 + TOLERANCE`` is within the bound: float32 weights and orthogonalization (the claims' Muon runs
compute Newton–Schulz in float32, :data:`~decaylab.claims.base.NS_DTYPE`)."""
BINDING = 0.5
"""The bound is tested only where some run's weights reach this fraction of it: far inside, nothing is."""


def bound_verdict(claim: str, ratios: list[float]) -> Verdict:
    """``ratios``: per run, its largest norm in the second half of training over the bound. Holds if no run
    exceeds the bound (within :data:`TOLERANCE`) and one comes within :data:`BINDING` of it; does not hold if a
    run exceeds it."""
    if len(ratios) < MIN_SEEDS:
        return not_measured(claim, f"needs {MIN_SEEDS} runs, has {len(ratios)}")
    largest = max(ratios)
    statistic = f"largest norm {largest:.3f}× the bound over {len(ratios)} runs (smallest {min(ratios):.3f}×)"
    bound_kept, binding = largest <= 1 + TOLERANCE, largest >= BINDING
    verdict = FAILS if not bound_kept else HOLDS if binding else INCONCLUSIVE
    rule = (
        f"holds if no run's norm exceeds the bound by more than {TOLERANCE:.0%} and one reaches {BINDING:.0%} of it; "
        f"does not hold if one exceeds it by more (inconclusive: the weights stayed far inside)"
    )
    return Verdict(claim, statistic, verdict, rule)


def unbounded_verdict(claim: str, ratios: list[float]) -> Verdict:
    """Holds if some ℓ2 run exceeds the decoupled bound at its λ; inconclusive if every one stayed within (no
    finite set of runs shows that a bound holds for a method it is not proven for)."""
    if len(ratios) < MIN_SEEDS:
        return not_measured(claim, f"needs {MIN_SEEDS} runs, has {len(ratios)}")
    largest = max(ratios)
    statistic = f"largest norm {largest:.3f}× the decoupled form's bound at the same λ"
    rule = f"holds if a run exceeds the bound by more than {TOLERANCE:.0%}; else inconclusive"
    return Verdict(claim, statistic, HOLDS if largest > 1 + TOLERANCE else INCONCLUSIVE, rule)


@dataclass(frozen=True)
class Measured:
    decays: tuple[float, ...]
    decoupled: dict[float, list[float]]
    """Per λ, each seed's ratio of its largest norm (second half of training) to the bound."""
    in_gradient: dict[float, list[float]]


@dataclass(frozen=True)
class EquilibriumBound:
    """A claim that ``decoupled``'s weights stay within ``step_norm/λ`` in the norm ``probe`` records, and that
    ``in_gradient``'s need not, at α = ``lr`` on the MNIST-1D MLP."""

    name: str
    title: str
    source: str
    decoupled: str
    in_gradient: str
    probe: str
    norm: str
    step_norm: float
    lr: float
    decays: tuple[float, ...]
    position: int

    @property
    def procedure(self) -> str:
        return (
            f"{self.decoupled} and {self.in_gradient} on the MNIST-1D MLP at α = {self.lr:g}, λ = "
            f"{', '.join(f'{d:g}' for d in self.decays)} (torch units), every seed: the largest {self.norm} among the "
            f"decayed weights at every epoch, over the bound {self.step_norm:g}/λ; the second half of training counts."
        )

    def runs(self, lab: Lab) -> list[RunConfig]:
        """Both forms at every λ and seed (a smoke run: the largest λ only)."""
        return [
            lab.run("mlp", method, self.lr, decay, seed, probes=(self.probe,))
            for method in (self.decoupled, self.in_gradient)
            for decay in (self.decays[-1:] if lab.plan.quick else self.decays)
            for seed in range(lab.plan.seeds)
        ]

    def ratios(self, lab: Lab, method: str) -> dict[float, list[float]]:
        ratios: dict[float, list[float]] = {decay: [] for decay in self.decays}
        for run in (run for run in self.runs(lab) if run.method == method and run.key in lab.finished):
            late = [value for epoch, value in lab.store.measurements(run.key, self.probe) if 2 * epoch > run.epochs]
            if late:
                ratios[run.weight_decay].append(max(late) * run.weight_decay / self.step_norm)
        return ratios

    def measure(self, lab: Lab) -> Measured:
        return Measured(self.decays, self.ratios(lab, self.decoupled), self.ratios(lab, self.in_gradient))

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        every = [[ratio for ratios in by_decay.values() for ratio in ratios] for by_decay in (
            measured.decoupled, measured.in_gradient)]  # fmt: skip
        return [
            bound_verdict(f"{self.decoupled} keeps its weights' {self.norm} within {self.step_norm:g}/λ", every[0]),
            unbounded_verdict(f"{self.in_gradient} (ℓ2 in the gradient) is not held by that bound", every[1]),
        ], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axis = plt.subplots(figsize=(6, 4))
        for offset, (method, ratios) in enumerate(
            ((self.decoupled, measured.decoupled), (self.in_gradient, measured.in_gradient))
        ):
            points = [(decay * (1 + 0.08 * offset), ratio) for decay, values in ratios.items() for ratio in values]
            axis.scatter([p[0] for p in points], [p[1] for p in points], label=method, s=18)
        axis.axhline(1.0, color="0.4", linestyle="--", label=f"the bound {self.step_norm:g}/λ")
        axis.set(xscale="log", yscale="log", xlabel="λ (torch units)", ylabel=f"largest {self.norm} / bound",
                 title=f"{self.title} (second half of training, each seed)")  # fmt: skip
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        file = f"{self.name}.png"
        figure.savefig(figures / file, dpi=110, bbox_inches="tight")
        plt.close(figure)
        return [file]
