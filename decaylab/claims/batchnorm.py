"""AdamW against AdamL2, without and with BatchNorm (Zhuang et al. 2022, as the post reports them).

Without BN AdamW should generalize better; with BN the two should be on par, and the best cell
should need no decay at all. Each method's best cell is chosen on validation; the test metric
of the chosen cells is compared seed by seed (same initialization and batches).
"""

from __future__ import annotations

import math
from pathlib import Path

from decaylab.analysis.cells import Cell, MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Finding, Lab, Verdict, not_measured
from decaylab.claims.statistics import difference_text, margin, paired_difference
from decaylab.lab.runs import RunConfig


def better(claim: str, a: Cell, b: Cell, grid: MethodGrid) -> Verdict:
    """``a`` beats ``b`` on the test metric, paired over seeds."""
    mean, error, n = paired_difference(a, b, grid.scale)
    if n == 0:
        return not_measured(claim, "no seed has both cells")
    limit = margin(error, grid.scale, b.mean("test_metric"))
    verdict = HOLDS if mean > limit else FAILS if mean < -limit else INCONCLUSIVE
    rule = f"holds if the difference exceeds {_shown(limit, grid)} (2 s.e., at least the noise floor); " \
           "does not hold below minus that"  # fmt: skip
    return Verdict(claim, difference_text(mean, error, n, grid.scale), verdict, rule)


def on_par(claim: str, a: Cell, b: Cell, grid: MethodGrid) -> Verdict:
    """``a`` and ``b`` within noise of each other on the test metric, paired over seeds."""
    mean, error, n = paired_difference(a, b, grid.scale)
    if n == 0:
        return not_measured(claim, "no seed has both cells")
    limit = margin(error, grid.scale, b.mean("test_metric"))
    verdict = HOLDS if abs(mean) <= limit else FAILS if abs(mean) > 2 * limit else INCONCLUSIVE
    rule = f"holds if |difference| ≤ {_shown(limit, grid)}; does not hold beyond twice that"
    return Verdict(claim, difference_text(mean, error, n, grid.scale), verdict, rule)


def _shown(value: float, grid: MethodGrid) -> str:
    return f"{100 * value:.2f} points" if grid.scale.percent else f"{value:.3g}"


def best_without_decay(grid: MethodGrid) -> Cell | None:
    """The best λ = 0 cell over the learning rates."""
    return grid.best(grid.cell(0.0, lr) for lr in grid.lrs if (0.0, lr) in grid.cells)


class BatchNormComparison:
    name = "batchnorm"
    title = "AdamW against AdamL2, without and with BatchNorm"
    source = "Zhuang et al. 2022, as the post reports them"
    procedure = (
        "The same architecture without and with BatchNorm. Each method's best cell is chosen on validation; "
        "the test metric of the chosen cells is compared seed by seed (same initialization and batches)."
    )

    def grid_runs(self, lab: Lab, role: str) -> list[RunConfig]:
        return [run for method in ("adamw", "adaml2") for run in lab.grid(role, method)]

    def runs(self, lab: Lab) -> list[RunConfig]:
        return self.grid_runs(lab, "plain") + self.grid_runs(lab, "bn")

    def check(self, lab: Lab, figures: Path) -> Finding:
        off, on = lab.grids(self.grid_runs(lab, "plain")), lab.grids(self.grid_runs(lab, "bn"))
        draw_heatmaps([*off.values()], figures / "batchnorm-off.png", f"{lab.task('plain').name}: without BatchNorm")
        verdicts = []
        for label, grids in (("without BN", off), ("with BN", on)):
            best_w, best_l2 = grids["adamw"].best(), grids["adaml2"].best()
            claim = f"{label}, AdamW " + ("beats AdamL2" if label == "without BN" else "and AdamL2 are on par")
            if best_w is None or best_l2 is None:
                verdicts.append(not_measured(claim, "a method has no finished cell"))
            elif label == "without BN":
                verdicts.append(better(claim + " (best cells, test)", best_w, best_l2, grids["adamw"]))
            else:
                verdicts.append(on_par(claim + " (best cells, test)", best_w, best_l2, grids["adamw"]))
        best_w, no_decay = on["adamw"].best(), best_without_decay(on["adamw"])
        claim = "with BN, λ = 0 is as good as the best AdamW cell"
        if best_w is None or no_decay is None or math.isnan(no_decay.mean()):
            verdicts.append(not_measured(claim, "no finished λ = 0 cell"))
        else:
            verdicts.append(on_par(claim + " (test)", no_decay, best_w, on["adamw"]))
        return Finding(verdicts, ["batchnorm-off.png"])
