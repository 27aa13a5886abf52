"""On ridge regression, paper-form AdamW's best λ is flat in α and torch-form's follows ``α·λ = const``
(Schaipp 2024, "How to jointly tune learning rate and weight decay for AdamW").

torch-form AdamW decays ``α·λ`` per step: if what matters is the decay per step, its best λ
falls one decade per decade of α (slope −1), while the paper form's stays put (slope 0).
"""

from __future__ import annotations

from pathlib import Path

from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims.base import Finding, Lab
from decaylab.claims.decoupling import decoupling_verdict, draw_ridges
from decaylab.claims.statistics import ridge, slope_interval
from decaylab.claims.timescale import slope_near_verdict
from decaylab.lab.train import RunConfig

METHODS_CHECKED = ("adamw", "adamw-torch")
PAPER_DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Paper-form λ one decade past the study default: at α = 0.1 its best λ lay at the default's edge (0.1)."""


class RidgeRegression:
    name = "ridge"
    title = "Ridge regression: the paper form is decoupled, the torch form keeps α·λ fixed"
    source = "Schaipp 2024"
    method = (
        "The ridge task (least squares, 200 examples, 1000 power-law features, a linear model), selected on "
        "validation loss. Per form, the slope of log λ* against log α over the good columns, with a bootstrap "
        "interval over seeds: 0 if decoupled, −1 if α·λ is what matters."
    )

    def runs(self, lab: Lab) -> list[RunConfig]:
        decays = None if lab.plan.quick else PAPER_DECAYS
        return lab.grid("ridge", "adamw", decays=decays) + lab.grid("ridge", "adamw-torch")

    def check(self, lab: Lab, figures: Path) -> Finding:
        grids = lab.grids(self.runs(lab))
        draw_heatmaps(list(grids.values()), figures / "ridge-heatmaps.png", "ridge: validation loss (lower is better)")
        draw_ridges(grids, figures / "ridge-ridges.png")
        verdicts = []
        for method, grid in grids.items():
            fit = ridge(grid)
            low, high, how = slope_interval(grid)
            if method == "adamw":
                verdicts.append(decoupling_verdict(method, fit.slope, low, high, len(fit.log_lrs), how))
            else:
                verdicts.append(slope_near_verdict("adamw-torch: α·λ* is constant (slope of log λ* on log α is −1)",
                                                  -1.0, fit.slope, low, high, len(fit.log_lrs)))  # fmt: skip
        return Finding(verdicts, ["ridge-heatmaps.png", "ridge-ridges.png"])
