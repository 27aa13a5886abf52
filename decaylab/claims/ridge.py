"""On ridge regression, paper-form AdamW's best λ is flat in α and torch-form's follows ``α·λ = const``
(Schaipp 2024, "How to jointly tune learning rate and weight decay for AdamW").

torch-form AdamW decays ``α·λ`` per step: if what matters is the decay per step, its best λ
falls one decade per decade of α (slope −1), while the paper form's stays put (slope 0).

A convex problem trained to its fixed point predicts the opposite: where the steps stop,
torch-form AdamW solves ``∇L(w) + λ·D⊙w = 0``, a ridge of strength λ in Adam's norm whatever α
is (slope 0), and the paper form ``∇L(w) + (λ/α)·D⊙w = 0`` (slope +1). The report prints both
predictions beside the measured slopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.analysis.ridges import RidgeSlope, ridge_slope
from decaylab.claims.base import Lab, Verdict, interval
from decaylab.claims.statistics import slope_near_verdict, slope_verdict
from decaylab.lab.runs import RunConfig

FIGURES = ("ridge-heatmaps.png", "ridge-ridges.png")
METHODS_CHECKED = ("adamw", "adamw-torch")
FIXED_POINT = "the fixed point ∇L + λ·D⊙w = 0 predicts 0"
PREDICTED = {"adamw": (0.0, 1.0), "adamw-torch": (-1.0, 0.0)}
"""Slope of log λ* on log α per form: (Schaipp's decay-per-step argument, the convex fixed point)."""
PAPER_DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Paper-form λ one decade past the study default: at α = 0.1 its best λ lay at the default's edge (0.1)."""


@dataclass(frozen=True)
class Measured:
    grids: dict[str, MethodGrid]
    slopes: list[RidgeSlope]


class RidgeRegression:
    name = "ridge"
    title = "Ridge regression: the paper form is decoupled, the torch form keeps α·λ fixed"
    source = "Schaipp 2024"
    procedure = (
        "The ridge task (least squares, 200 examples, 1000 power-law features, a linear model), selected on "
        "validation loss. Per form, the slope of log λ* against log α over the good columns, with a bootstrap "
        "interval over seeds: 0 if decoupled, −1 if α·λ is what matters."
    )
    position = 70

    def runs(self, lab: Lab) -> list[RunConfig]:
        decays = None if lab.plan.quick else PAPER_DECAYS
        return lab.grid("ridge", "adamw", decays=decays) + lab.grid("ridge", "adamw-torch")

    def measure(self, lab: Lab) -> Measured:
        grids = lab.grids(self.runs(lab))
        return Measured(grids, [ridge_slope(grid) for grid in grids.values()])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        details = [
            "| form | measured slope of log λ* on log α | Schaipp predicts | the fixed point predicts |",
            "|---|---|---|---|",
        ]
        for slope in measured.slopes:
            fit = slope.ridge
            if slope.method == "adamw":
                verdicts.append(slope_verdict(slope))
            else:
                claim = "adamw-torch: α·λ* is constant (slope of log λ* on log α is −1)"
                verdicts.append(
                    slope_near_verdict(claim, -1.0, fit.slope, slope.low, slope.high, len(fit.log_lrs), FIXED_POINT)
                )
            schaipp, fixed_point = PREDICTED[slope.method]
            shown = f"{fit.slope:+.2f} {interval(slope.low, slope.high)}"
            details.append(f"| {slope.method} | {shown} | {schaipp:+g} | {fixed_point:+g} |")
        return verdicts, details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = "ridge: validation loss (lower is better)"
        return draw_grids_and_ridges(list(measured.grids.values()), measured.slopes, figures, FIGURES, title)


CLAIM = RidgeRegression()
