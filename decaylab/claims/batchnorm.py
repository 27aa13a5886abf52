"""AdamW against AdamL2, without and with BatchNorm (Zhuang et al. 2022, as the post reports them).

Without BN AdamW should generalize better; with BN the two should be on par, and the best cell
should need no decay at all. Each method's best cell is chosen on validation; the test metric
of the chosen cells is compared seed by seed (same initialization and batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import Cell, MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims.base import Lab, Verdict, not_measured
from decaylab.claims.statistics import at_an_edge, better, on_par
from decaylab.lab.runs import RunConfig


def best_without_decay(grid: MethodGrid) -> Cell | None:
    """The best λ = 0 cell over the learning rates."""
    return grid.best(grid.cell(0.0, lr) for lr in grid.lrs if (0.0, lr) in grid.cells)


@dataclass(frozen=True)
class Measured:
    without_bn: dict[str, MethodGrid]
    with_bn: dict[str, MethodGrid]
    title: str


class BatchNormComparison:
    name = "batchnorm"
    title = "AdamW against AdamL2, without and with BatchNorm"
    source = "Zhuang et al. 2022, as the post reports them"
    procedure = (
        "The same architecture without and with BatchNorm. Each method's best cell is chosen on validation; "
        "the test metric of the chosen cells is compared seed by seed (same initialization and batches)."
    )
    position = 20

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for role in ("plain", "bn") for method in ("adamw", "adaml2") for run in lab.grid(role, method)]

    def measure(self, lab: Lab) -> Measured:
        off, on = ({m: lab.grid(role, m) for m in ("adamw", "adaml2")} for role in ("plain", "bn"))
        title = f"{lab.task('plain').name}: without BatchNorm"
        return Measured(lab.grids([*off["adamw"], *off["adaml2"]]), lab.grids([*on["adamw"], *on["adaml2"]]), title)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for label, grids in (("without BN", measured.without_bn), ("with BN", measured.with_bn)):
            best_w, best_l2 = grids["adamw"].best(), grids["adaml2"].best()
            claim = f"{label}, AdamW " + ("beats AdamL2" if label == "without BN" else "and AdamL2 are on par")
            claim += " (best cells, test)"
            compare = better if label == "without BN" else on_par
            if best_w is None or best_l2 is None:
                verdicts.append(not_measured(claim, "a method has no finished cell"))
            else:
                edge = at_an_edge(claim, (best_w, grids["adamw"]), (best_l2, grids["adaml2"]))
                verdicts.append(edge or compare(claim, best_w, best_l2, grids["adamw"]))
        on = measured.with_bn["adamw"]
        best_w, no_decay = on.best(), best_without_decay(on)
        claim = "with BN, λ = 0 is as good as the best AdamW cell (test)"
        if best_w is None or no_decay is None or math.isnan(no_decay.mean()):
            verdicts.append(not_measured(claim, "no finished λ = 0 cell"))
        else:
            verdicts.append(at_an_edge(claim, (no_decay, on), (best_w, on)) or on_par(claim, no_decay, best_w, on))
        return verdicts, []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        draw_heatmaps([*measured.without_bn.values()], figures / "batchnorm-off.png", measured.title)
        return ["batchnorm-off.png"]


CLAIM = BatchNormComparison()
