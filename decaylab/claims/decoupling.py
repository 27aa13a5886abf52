"""Decoupling of α and λ (Loshchilov & Hutter 2019, Fig. 2; the post's Fig. 1).

Per method, the best λ of each good learning-rate column (refined by a parabola in log λ)
and the slope ``s = d log λ*/d log α`` through them, with a 95% interval from a bootstrap over
seeds. Decoupled means the best λ stays put (``s ≈ 0``, paper-form AdamW and ProxAdam); coupled
means it falls as α grows (torch-form AdamW near −1, AdamL2 steeper). Loshchilov & Hutter's own
view is reported beside it: the slope through the top cells of the heatmap.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.analysis.ridges import decay_ridge, slope_interval, top_cells_slope
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Finding, Lab, Verdict, interval, not_measured
from decaylab.lab.runs import RunConfig
from decaylab.optim import METHODS

METHODS_CHECKED = ("adamw", "proxadam", "adamw-torch", "adaml2")
DECOUPLED = 0.25
"""``|s| ≤ 0.25``: the best λ moves less than a quarter decade per decade of α."""
COUPLED = -0.5
"""``s < −0.5``: the best λ falls at least half a decade per decade of α."""


def decoupling_verdict(method: str, slope: float, low: float, high: float, columns: int, how: str) -> Verdict:
    """The rule: decided on the 95% interval of the slope (a point estimate alone decides nothing)."""
    expect = METHODS[method].coupling
    claim = f"{method}: α and λ are {expect}" + (" (the best λ stays put)" if expect == "decoupled" else "")
    if columns < 3 or not math.isfinite(low):
        return not_measured(claim, f"a slope needs 3 good columns and an interval; {columns} good columns")
    statistic = f"s = {slope:+.2f}, 95% interval {interval(low, high)} ({how}; {columns} columns)"
    if expect == "decoupled":
        rule = f"holds if the interval lies within [−{2 * DECOUPLED:g}, {2 * DECOUPLED:g}] and |s| ≤ {DECOUPLED}; "
        rule += f"does not hold if it lies outside [−{DECOUPLED}, {DECOUPLED}]"
        holds = abs(slope) <= DECOUPLED and low >= -2 * DECOUPLED and high <= 2 * DECOUPLED
        fails = high < -DECOUPLED or low > DECOUPLED
    else:
        rule = f"holds if the whole interval lies below {COUPLED}; does not hold if it lies above −{DECOUPLED}"
        holds, fails = high < COUPLED, low > -DECOUPLED
    return Verdict(claim, statistic, HOLDS if holds else FAILS if fails else INCONCLUSIVE, rule)


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

    def grids_runs(self, lab: Lab) -> list[RunConfig]:
        return [run for method in METHODS_CHECKED for run in lab.grid("bn", method)]

    def runs(self, lab: Lab) -> list[RunConfig]:
        return self.grids_runs(lab)

    def check(self, lab: Lab, figures: Path) -> Finding:
        grids = lab.grids(self.grids_runs(lab))
        task = lab.task("bn")
        draw_heatmaps(list(grids.values()), figures / "decoupling-heatmaps.png",
                      f"{task.name}: the post's Fig. 1, {lab.epochs('bn')} epochs")  # fmt: skip
        draw_ridges(grids, figures / "decoupling-ridges.png")
        verdicts, details = [], ["| method | s (ridge) | top-cells slope (L&H's view) |", "|---|---|---|"]
        for method, grid in grids.items():
            fit = decay_ridge(grid)
            low, high, how = slope_interval(grid)
            verdicts.append(decoupling_verdict(method, fit.slope, low, high, len(fit.log_lrs), how))
            top, count = top_cells_slope(grid)
            details.append(f"| {method} | {fit.slope:+.2f} {interval(low, high)} | {top:+.2f} over the top {count} |")
        return Finding(verdicts, ["decoupling-heatmaps.png", "decoupling-ridges.png"], details)


def draw_ridges(grids: dict[str, MethodGrid], path: Path) -> None:
    """log λ* against log α per method, each in its own units, with torch-form AdamW also in paper units."""
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for method, grid in grids.items():
        fit = decay_ridge(grid)
        if not fit.log_lrs:
            continue
        line = axis.plot(fit.log_lrs, fit.log_decays, "o-", label=f"{method} (s = {fit.slope:+.2f})")
        if method == "adamw-torch":  # the paper-form equivalent: λ_paper = α·λ_torch
            axis.plot(fit.log_lrs, [d + a for a, d in zip(fit.log_lrs, fit.log_decays, strict=True)], ":",
                      color=line[0].get_color(), label="adamw-torch as α·λ (paper units)")  # fmt: skip
    axis.set(xlabel="log10 α (good columns)", ylabel="log10 λ* (each method's own units)",
             title="best λ per learning rate")  # fmt: skip
    if axis.lines:
        axis.legend(fontsize=7)
    else:  # a quick run's small grid may leave no interior best λ to draw
        axis.text(0.5, 0.5, "no column with an interior best λ", ha="center", transform=axis.transAxes)
    axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
