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

from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.claims.base import Coupling, Lab, Verdict, interval, signed
from decaylab.claims.statistics import coupling_verdict, slope_near_verdict
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
    couplings: list[Coupling]


class RidgeRegression:
    name = "ridge"
    title = "Ridge regression: the paper form is decoupled, the torch form keeps α·λ fixed"
    source = "Schaipp 2024"
    procedure = (
        "The ridge task (least squares, 200 examples, 1000 power-law features, a linear model), selected on "
        "validation loss. Per form, λ* searched in rounds at each good column of its grid, and the slope of "
        "log λ* against log α seed by seed, with a 95% interval from Student's t over the seeds: 0 if decoupled, "
        "−1 if α·λ is what matters."
    )
    position = 70

    def couplings(self, lab: Lab) -> list[tuple[list[RunConfig], Coupling | None]]:
        paper_decays = None if lab.plan.quick else PAPER_DECAYS
        return [lab.coupling("ridge", "adamw", decays=paper_decays), lab.coupling("ridge", "adamw-torch")]

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for runs, _ in self.couplings(lab) for run in runs]

    def measure(self, lab: Lab) -> Measured:
        return Measured([coupling for _, coupling in self.couplings(lab) if coupling is not None])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        details = [
            "| form | measured slope of log λ* on log α | Schaipp predicts | the fixed point predicts |",
            "|---|---|---|---|",
        ]
        for coupling in measured.couplings:
            slope = coupling.slope
            if coupling.method == "adamw":
                verdicts.append(coupling_verdict(coupling))
            else:
                claim = "adamw-torch: α·λ* is constant (slope of log λ* on log α is −1)"
                near = slope_near_verdict(
                    claim, -1.0, slope.centre, slope.low, slope.high, coupling.columns, FIXED_POINT
                )
                verdicts.append(near)
            schaipp, fixed_point = PREDICTED[coupling.method]
            shown = f"{signed(slope.centre)} {interval(slope.low, slope.high)}"
            details.append(f"| {coupling.method} | {shown} | {schaipp:+g} | {fixed_point:+g} |")
        return verdicts, details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = "ridge: validation loss (lower is better)"
        grids, ridges = [c.grid for c in measured.couplings], [c.ridge() for c in measured.couplings]
        return draw_grids_and_ridges(grids, ridges, figures, FIGURES, title)


CLAIM = RidgeRegression()
