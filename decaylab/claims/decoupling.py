"""Decoupling of α and λ (Loshchilov & Hutter 2019, Fig. 2; the post's Fig. 1).

Per method, the best λ of each good learning-rate column (refined by a parabola in log λ)
and the slope ``s = d log λ*/d log α`` through them, with a 95% interval from a bootstrap over
seeds. Decoupled means the best λ stays put (``s ≈ 0``, paper-form AdamW and ProxAdam); coupled
means it falls as α grows (torch-form AdamW near −1, AdamL2 steeper). Loshchilov & Hutter's own
view is reported beside it: the slope through the top cells of the heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.analysis.ridges import RidgeSlope, ridge_slope
from decaylab.claims.base import Lab, Verdict, interval
from decaylab.claims.statistics import slope_verdict
from decaylab.lab.runs import RunConfig

METHODS_CHECKED = ("adamw", "proxadam", "adamw-torch", "adaml2")
FIGURES = ("decoupling-heatmaps.png", "decoupling-ridges.png")


@dataclass(frozen=True)
class Measured:
    grids: dict[str, MethodGrid]
    slopes: list[RidgeSlope]
    title: str


class Decoupling:
    name = "decoupling"
    title = "Decoupling of α and λ: the post's Fig. 1"
    source = "Loshchilov & Hutter 2019 (Fig. 2); the post (Fig. 1)"
    procedure = (
        "The task with BatchNorm, where the good learning rates span a wide band. Per method, the best λ of "
        "each learning-rate column whose best cell is within 5 points of the grid's best (refined by a parabola "
        "in log λ), and the slope s = d log λ*/d log α through them, with a 95% interval from a bootstrap over "
        "seeds. Beside it, Loshchilov & Hutter's view: the slope through the top 10% of the cells."
    )
    position = 10

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for method in METHODS_CHECKED for run in lab.grid("bn", method)]

    def measure(self, lab: Lab) -> Measured:
        grids = lab.grids(self.runs(lab))
        title = f"{lab.task('bn').name}: the post's Fig. 1, {lab.epochs('bn')} epochs"
        return Measured(grids, [ridge_slope(grid) for grid in grids.values()], title)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        details = ["| method | s (ridge) | top-cells slope (L&H's view) |", "|---|---|---|"]
        for slope in measured.slopes:
            fit = f"{slope.ridge.slope:+.2f} {interval(slope.low, slope.high)}"
            details.append(f"| {slope.method} | {fit} | {slope.top_slope:+.2f} over the top {slope.top_count} |")
        return [slope_verdict(slope) for slope in measured.slopes], details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        grids = list(measured.grids.values())
        return draw_grids_and_ridges(grids, measured.slopes, figures, FIGURES, measured.title)


CLAIM = Decoupling()
