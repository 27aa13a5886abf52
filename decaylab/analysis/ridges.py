"""The ridge of a heatmap: the best λ of each learning-rate column, and how it moves with α.

Used by study reports (what the post's Fig. 1 shows) and by the claims. Cells are compared on
the held-out metric the best cell is chosen by, turned so that larger is better
(``MetricScale.key``: accuracy as it is, a loss negated).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from decaylab.analysis.cells import Cell, MethodGrid, MetricScale
from decaylab.lab.optimum import column_optimum
from decaylab.lab.statistics import fit_slope, t_interval

GOOD_COLUMN = 0.05
"""A learning-rate column enters the ridge if its best cell is within 5 points of accuracy (5% of a
loss) of the grid's best: the ridge is where λ* sits wherever training works."""


def seeds_of(grid: MethodGrid) -> list[int]:
    return sorted({run["seed"] for cell in grid.cells.values() for run in cell.runs})


def cell_score(cell: Cell, scale: MetricScale, seeds: Sequence[int] | None = None) -> float:
    """The cell's mean selection metric over ``seeds`` (repeats count, as a bootstrap draws them), larger
    is better; NaN for a diverged or missing cell."""
    if cell.failed:
        return math.nan
    by_seed = {run["seed"]: run["val_metric"] for run in cell.runs if run["status"] == "done"}
    values = [by_seed[s] for s in (seeds if seeds is not None else sorted(by_seed)) if by_seed.get(s) is not None]
    return scale.key(statistics.fmean(values)) if values else math.nan


def tolerance(scale: MetricScale, value: float) -> float:
    """How far below the best score a column may be and still count as one where training works."""
    return GOOD_COLUMN if scale.percent else GOOD_COLUMN * abs(value)


@dataclass(frozen=True)
class DecayRidge:
    """``log10 λ*`` per good learning-rate column, and the slope ``d log λ*/d log α`` through them."""

    log_lrs: list[float]
    log_decays: list[float]
    slope: float
    error: float


def good_columns(grid: MethodGrid, seeds: Sequence[int] | None = None) -> list[float]:
    """The learning rates whose best cell comes within :data:`GOOD_COLUMN` of the grid's best (where training
    works, so where λ* means something)."""
    scores = {key: cell_score(cell, grid.scale, seeds) for key, cell in grid.cells.items()}
    finite = [s for s in scores.values() if math.isfinite(s)]
    if not finite:
        return []
    threshold = max(finite) - tolerance(grid.scale, max(finite))

    def column_best(lr: float) -> float:
        column = [scores.get((decay, lr), math.nan) for decay in grid.weight_decays]
        return max((score for score in column if math.isfinite(score)), default=-math.inf)

    return [lr for lr in grid.lrs if column_best(lr) >= threshold]


def decay_ridge(grid: MethodGrid, seeds: Sequence[int] | None = None) -> DecayRidge:
    """The best λ of every good column (:func:`good_columns`), refined by a parabola, and its slope.

    A column whose best λ lies at the grid's edge is left out: there the grid only bounds λ*, and a
    column where λ barely matters (an undertrained one, say) puts its best at the smallest λ by noise."""
    log_lrs, log_decays = [], []
    for lr in good_columns(grid, seeds):
        column = [cell_score(grid.cell(d, lr), grid.scale, seeds) for d in grid.weight_decays]
        log_decay = column_optimum(grid.weight_decays, column, interior=True)
        if log_decay is not None:
            log_lrs.append(math.log10(lr))
            log_decays.append(log_decay)
    return DecayRidge(log_lrs, log_decays, *fit_slope(log_lrs, log_decays))


def slope_interval(grid: MethodGrid) -> tuple[float, float, str]:
    """A 95% interval for the ridge's slope: each seed's own ridge slope, Student's t over the seeds; none
    (NaN) with fewer than 3 seeds, where no interval is honest."""
    slopes = [slope for seed in seeds_of(grid) if math.isfinite(slope := decay_ridge(grid, [seed]).slope)]
    low, high = t_interval(slopes)
    how = f"t over {len(slopes)} seeds' slopes" if math.isfinite(low) else f"{len(slopes)} seed(s): no interval"
    return low, high, how


def top_cells_slope(grid: MethodGrid, share: float = 0.1) -> tuple[float, int]:
    """Loshchilov & Hutter's view: the least-squares slope of ``log λ`` on ``log α`` through the best
    cells (the top ``share`` of the λ > 0 cells, at least three), and how many cells that is."""
    cells = [c for c in grid.cells.values() if c.weight_decay > 0 and math.isfinite(cell_score(c, grid.scale))]
    count = max(3, round(share * len(cells)))
    top = sorted(cells, key=lambda c: cell_score(c, grid.scale), reverse=True)[:count]
    slope, _ = fit_slope([math.log10(c.lr) for c in top], [math.log10(c.weight_decay) for c in top])
    return slope, len(top)
