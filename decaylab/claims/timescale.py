"""The EMA timescale of AdamW, in epochs, is what to hold fixed (Wang & Aitchison 2025).

Paper-form AdamW averages the updates over ``τ_iter = 1/(η·λ)`` steps, ``τ_epoch = B/(N·η·λ)``
epochs. If the best ``τ_epoch`` stays constant, the best λ grows as ``1/N`` when the training set
shrinks (slope −1 of ``log λ*`` against ``log N``) and does not move when training is longer or
shorter in epochs (slope 0 against ``log T``). Loshchilov & Hutter's normalized decay,
``λ ∝ √(B/(N·T))``, predicts −0.5 for both; both slopes are reported against both.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.ridges import BOOTSTRAP_ROUNDS, best_log_decay, cell_score, fit_slope, seeds_of
from decaylab.claims.base import Lab, Unmeasured, Verdict
from decaylab.claims.statistics import slope_near_verdict
from decaylab.lab.runs import RunConfig

DECAYS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
"""Half-decades of paper-form λ: finer than a study's grid, as λ* is read at one α."""
QUICK_DECAYS = (1e-3, 1e-2, 1e-1)
FRACTIONS = (1, 2, 4)
"""The training set, all of it, half and a quarter; and the training length likewise."""


def log_best_decay(grid: MethodGrid, lr: float, seeds: Sequence[int] | None = None) -> float | None:
    """``log10 λ*`` at ``lr`` (interior optima only: at the grid's edge λ* is only bounded)."""
    scores = [cell_score(grid.cell(d, lr), grid.scale, seeds) for d in grid.weight_decays]
    return best_log_decay(grid.weight_decays, scores, interior=True)


def slope_with_interval(grids: dict[int, MethodGrid], lr: float) -> tuple[float, float, float, int]:
    """Slope of ``log λ*`` against ``log x`` over the settings ``x`` of ``grids``, a bootstrap interval over
    seeds (NaN with one seed), and how many settings had an interior λ*."""

    def fit(seeds: Sequence[int] | None) -> tuple[float, int]:
        points = [(math.log10(x), d) for x, g in grids.items() if (d := log_best_decay(g, lr, seeds)) is not None]
        return fit_slope([p[0] for p in points], [p[1] for p in points])[0], len(points)

    slope, settings = fit(None)
    seeds = seeds_of(next(iter(grids.values())))
    if len(seeds) < 2:
        return slope, math.nan, math.nan, settings
    draw = random.Random(0)
    slopes = sorted(
        s for s in (fit(draw.choices(seeds, k=len(seeds)))[0] for _ in range(BOOTSTRAP_ROUNDS)) if math.isfinite(s)
    )
    if len(slopes) < BOOTSTRAP_ROUNDS // 2:
        return slope, math.nan, math.nan, settings
    return slope, slopes[int(0.025 * len(slopes))], slopes[int(0.975 * len(slopes)) - 1], settings


NORMALIZED_DECAY = "L&H's normalized decay predicts −0.5"
AXES = (
    ("N", "λ* grows as 1/N when the training set shrinks (τ_epoch fixed)", -1.0),
    ("T", "λ* does not move with the training length in epochs (τ_epoch fixed)", 0.0),
)
"""Per axis: its label, the statement, and the slope of log λ* Wang & Aitchison predict."""


@dataclass(frozen=True)
class AxisSlope:
    label: str
    slope: float
    low: float
    high: float
    settings: int
    """How many settings had an interior λ*."""
    log_best: dict[int, float | None]
    """log10 λ* per setting (None at the grid's edge)."""


@dataclass(frozen=True)
class Measured:
    alpha: float
    axes: list[AxisSlope]
    batch_size: int


class Timescale:
    name = "timescale"
    title = "The EMA timescale in epochs stays fixed: dataset size and training length"
    source = "Wang & Aitchison 2025; Loshchilov & Hutter 2019 (normalized weight decay)"
    procedure = (
        "Paper-form AdamW on the task with BatchNorm, at the best learning rate of its grid, over half-decades "
        "of λ: trained on all of the training set, on half and on a quarter of it (same epochs), and for the "
        "full, half and a quarter of the epochs. λ* is the parabola-refined best λ at each setting (settings "
        "whose best λ lies at the grid's edge are left out); the slope of log λ* against log N and log T has "
        "a 95% interval from a bootstrap over seeds."
    )

    position = 80

    def decays(self, lab: Lab) -> tuple[float, ...]:
        return QUICK_DECAYS if lab.plan.quick else DECAYS

    def settings(self, lab: Lab, alpha: float) -> tuple[dict[int, list[RunConfig]], dict[int, list[RunConfig]]]:
        """The runs per training-set size ``N`` and per training length ``T``."""
        examples = len(lab.task("bn").train[0])
        epochs = lab.epochs("bn")
        sizes = {
            examples // f: lab.grid(
                lab.subset("bn", examples // f) if f > 1 else "bn", "adamw", [alpha], self.decays(lab)
            )
            for f in FRACTIONS
        }
        lengths = {
            max(1, epochs // f): lab.grid("bn", "adamw", [alpha], self.decays(lab), epochs=max(1, epochs // f))
            for f in FRACTIONS
        }
        return sizes, lengths

    def runs(self, lab: Lab) -> list[RunConfig]:
        best = lab.best_cell("bn", "adamw")
        if best is None:
            return lab.grid("bn", "adamw")
        sizes, lengths = self.settings(lab, best.lr)
        return [run for runs in (*sizes.values(), *lengths.values()) for run in runs]

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        best = lab.best_cell("bn", "adamw")
        if best is None:
            return Unmeasured("the best τ_epoch stays fixed", "paper AdamW's grid has no finished cell")
        axes = []
        for (label, _, _), groups in zip(AXES, self.settings(lab, best.lr), strict=True):
            grids = {x: lab.grids(runs)["adamw"] for x, runs in groups.items()}
            log_best = {x: log_best_decay(grid, best.lr) for x, grid in grids.items()}
            axes.append(AxisSlope(label, *slope_with_interval(grids, best.lr), log_best))
        return Measured(best.lr, axes, lab.task("bn").batch_size)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for (label, claim, expected), axis in zip(AXES, measured.axes, strict=True):
            statement = f"{claim}: slope of log λ* on log {label} is {expected:g}"
            verdicts.append(
                slope_near_verdict(
                    statement, expected, axis.slope, axis.low, axis.high, axis.settings, NORMALIZED_DECAY
                )
            )
        return verdicts, [f"τ_epoch = B/(N·λ*) at the full set: {_tau(measured)}"]

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for axis, measured_axis in zip(axes, measured.axes, strict=True):
            label = measured_axis.label
            shown = {x: d for x, d in measured_axis.log_best.items() if d is not None}
            axis.plot(list(shown), list(shown.values()), "o-", label="measured λ*")
            if shown:
                x0, d0 = max(shown.items())
                for slope, style in ((-1.0, ":"), (-0.5, "--"), (0.0, "-.")):
                    axis.plot(
                        list(shown),
                        [d0 + slope * math.log10(x / x0) for x in shown],
                        style,
                        color="0.5",
                        label=f"slope {slope:g}",
                    )
            title = f"best λ against {label} at α = {measured.alpha:g}"
            axis.set(
                xscale="log",
                xlabel="training examples N" if label == "N" else "epochs T",
                ylabel="log10 λ* (paper AdamW)",
                title=title,
            )
            axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.savefig(figures / "timescale.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["timescale.png"]


def _tau(measured: Measured) -> str:
    sizes = measured.axes[0].log_best
    examples = max(sizes)
    decay = sizes[examples]
    if decay is None:
        return "no interior λ*"
    return f"{measured.batch_size / (examples * 10**decay):.2f} epochs (λ* = {10**decay:.2g})"


CLAIM = Timescale()
