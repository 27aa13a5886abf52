"""Decoupling of α and λ (Loshchilov & Hutter 2019, Fig. 2; the post's Fig. 1).

Per method, λ* searched in rounds at each good learning-rate column of its grid (as ``decaylab
transfer`` measures it), and the slope ``s = d log λ*/d log α`` through them, seed by seed, with a 95%
interval from Student's t over the seeds. Decoupled means the best λ stays put (``s ≈ 0``, paper-form
AdamW and ProxAdam); coupled means it falls as α grows (torch-form AdamW near −1, AdamL2 steeper).
Loshchilov & Hutter's own view is reported beside it: the slope through the top cells of the heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.analysis.ridges import top_cells_slope
from decaylab.claims.base import Coupling, Lab, Verdict, interval, signed
from decaylab.claims.statistics import coupling_verdict
from decaylab.lab.runs import RunConfig

METHODS_CHECKED = ("adamw", "proxadam", "adamw-torch", "adaml2")
FIGURES = ("decoupling-heatmaps.png", "decoupling-ridges.png")


@dataclass(frozen=True)
class Measured:
    couplings: list[Coupling]
    title: str


class Decoupling:
    name = "decoupling"
    title = "Decoupling of α and λ: the post's Fig. 1"
    source = "Loshchilov & Hutter 2019 (Fig. 2); the post (Fig. 1)"
    procedure = (
        "The task with BatchNorm, where the good learning rates span a wide band. Per method, its α × λ grid; at "
        "each learning-rate column whose best cell is within 5 points of the grid's best, λ* searched in rounds "
        "(the grid's decades, grown at an edge, then half- and quarter-decade points) and estimated seed by seed; "
        "the slope s = d log λ*/d log α per seed, with a 95% interval from Student's t over the seeds. Beside it, "
        "Loshchilov & Hutter's view: the slope through the top 10% of the cells."
    )
    position = 10

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for method in METHODS_CHECKED for run in lab.coupling("bn", method)[0]]

    def measure(self, lab: Lab) -> Measured:
        couplings = [coupling for method in METHODS_CHECKED if (coupling := lab.coupling("bn", method)[1])]
        return Measured(couplings, f"{lab.task('bn').name}: the post's Fig. 1, {lab.epochs('bn')} epochs")

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        details = ["| method | s (λ* per column) | top-cells slope (L&H's view) |", "|---|---|---|"]
        for coupling in measured.couplings:
            top, count = top_cells_slope(coupling.grid)
            slope = coupling.slope
            details.append(
                f"| {coupling.method} | {signed(slope.centre)} {interval(slope.low, slope.high)} | "
                f"{signed(top)} over the top {count} |"
            )
        return [coupling_verdict(coupling) for coupling in measured.couplings], details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        grids = [coupling.grid for coupling in measured.couplings]
        ridges = [coupling.ridge() for coupling in measured.couplings]
        return draw_grids_and_ridges(grids, ridges, figures, FIGURES, measured.title)


CLAIM = Decoupling()
