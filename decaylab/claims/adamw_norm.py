"""AdamW's scale-invariant weights settle at a norm of ``√(η/λ)``: Fan et al. (2025, arXiv 2510.15262) find that
in scale-invariant architectures training enters an optimizer-governed steady state in which each matrix's
singular values scale as ``√(η/λ)`` (torch-form AdamW). A weight whose scale a normalization removes gets no
gradient along itself, Adam's step has a fixed size per coordinate, and ``(1 − η·λ)`` shrinks the weight, so
``‖w‖²`` settles where ``2·η·λ·‖w‖² ≈ η²·‖u‖²``: a slope of ``+1/2`` of ``log σ_max`` on ``log(η/λ)``.
Measured on the BatchNorm-fed matrices of the MNIST-1D MLP with BatchNorm, at a constant α. (On the MLP without
BatchNorm, where the scale counts, the slope measured +0.03 [+0.02, +0.05]: no such law there.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.claims.base import Lab, Verdict, interval, not_measured, signed
from decaylab.claims.statistics import band_verdict
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import MIN_SEEDS, Value, fit_slope
from decaylab.lab.training.probes import TopSingularValue

LRS = (3e-3, 1e-2, 3e-2)
DECAYS = (0.3, 1.0, 3.0)
"""torch units: ``α·λ`` from 9e-4 to 0.09 a step; the slowest cell's ``1/(α·λ)`` is 1,100 of the MLP's 1,200
steps, the others' at most a third of them."""
SQUARE_ROOT = (0.35, 0.65)
CLAIM_TEXT = "AdamW's top singular value grows as √(η/λ)"


def sqrt_verdict(slopes: list[float]) -> Verdict:
    """``slopes``: per seed, the slope of ``log σ_max`` on ``log(α/λ)`` over the cells. Holds if its 95% interval
    lies within :data:`SQUARE_ROOT`; does not hold if it lies wholly outside."""
    value = Value.over_seeds([slope for slope in slopes if math.isfinite(slope)])
    if not value.has_interval:
        return not_measured(CLAIM_TEXT, f"slope {signed(value.centre)}, but a 95% interval needs {MIN_SEEDS} seeds")
    statistic = f"slope of log σ_max on log(α/λ) {signed(value.centre)}, 95% interval {interval(value.low, value.high)}"
    rule = f"holds if the interval lies within [{SQUARE_ROOT[0]}, {SQUARE_ROOT[1]}]; does not hold if wholly outside"
    return band_verdict(CLAIM_TEXT, statistic, value.centre, value.low, value.high, holds_within=SQUARE_ROOT,
                        fails_outside=SQUARE_ROOT, rule=rule)  # fmt: skip


@dataclass(frozen=True)
class Measured:
    points: dict[int, list[tuple[float, float]]]
    """Per seed, ``(log10(α/λ), log10 σ_max)`` of each cell at the last epoch."""


class AdamWNorm:
    name = "adamw-norm"
    title = "AdamW's top singular value ∝ √(η/λ)"
    source = "Fan et al. 2025 (arXiv 2510.15262)"
    procedure = (
        f"Torch-form AdamW on the MNIST-1D MLP with BatchNorm at a constant α ∈ {{{', '.join(f'{a:g}' for a in LRS)}}} "
        f"and λ ∈ {{{', '.join(f'{d:g}' for d in DECAYS)}}} (torch units): the largest singular value of its "
        "BatchNorm-fed weight matrices at the last epoch; per seed the slope of log σ_max on log(α/λ), with a t "
        "interval over seeds."
    )
    position = 117

    def runs(self, lab: Lab) -> list[RunConfig]:
        """Every cell and seed (a smoke run: two α at one λ)."""
        lrs, decays = (LRS[:2], DECAYS[1:2]) if lab.plan.quick else (LRS, DECAYS)
        return [
            lab.run("mlp-bn", "adamw-torch", lr, decay, seed, schedule="constant", probes=(TopSingularValue.name,))
            for seed in range(lab.plan.seeds)
            for decay in decays
            for lr in lrs
        ]

    def measure(self, lab: Lab) -> Measured:
        points: dict[int, list[tuple[float, float]]] = {}
        for run in (run for run in self.runs(lab) if run.key in lab.finished):
            values = lab.store.measurements(run.key, TopSingularValue.name)
            if values and math.isfinite(values[-1][1]):
                point = (math.log10(run.lr / run.weight_decay), math.log10(values[-1][1]))
                points.setdefault(run.seed, []).append(point)
        return Measured(points)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        slopes = [fit_slope(*zip(*points, strict=True))[0] for points in measured.points.values()]
        return [sqrt_verdict(slopes)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axis = plt.subplots(figsize=(6, 4))
        for seed, points in measured.points.items():
            axis.scatter([x for x, _ in points], [y for _, y in points], s=18, label=f"seed {seed}")
        if measured.points:
            xs = [x for points in measured.points.values() for x, _ in points]
            middle = sum(y for points in measured.points.values() for _, y in points) / len(xs)
            centre = sum(xs) / len(xs)
            axis.plot([min(xs), max(xs)], [middle + (x - centre) / 2 for x in (min(xs), max(xs))], "--", color="0.4",
                      label="slope 1/2")  # fmt: skip
        axis.set(xlabel="log10(α/λ)", ylabel="log10 σ_max (last epoch)", title=self.title)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        figure.savefig(figures / "adamw-norm.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["adamw-norm.png"]


CLAIM = AdamWNorm()
