"""Comparisons claims share: two cells' metrics paired by seed, and what counts as a real difference.

A comparison of two methods uses the test metric of each one's chosen cell, paired by seed,
turned so that larger is better (``MetricScale.key``).
"""

from __future__ import annotations

import math
import statistics

from decaylab.analysis.cells import Cell, MetricScale

ACCURACY_FLOOR = 0.005
"""Differences under half a point of accuracy are not told apart, whatever the seeds say."""
RELATIVE_FLOOR = 0.005
"""For other metrics, differences under 0.5% of the value."""


def paired_difference(a: Cell, b: Cell, scale: MetricScale, column: str = "test_metric") -> tuple[float, float, int]:
    """Mean and standard error of ``score(a) − score(b)`` on ``column`` over the seeds both have (larger: a better)."""
    by_seed_a = {r["seed"]: r[column] for r in a.runs if r["status"] == "done" and r[column] is not None}
    by_seed_b = {r["seed"]: r[column] for r in b.runs if r["status"] == "done" and r[column] is not None}
    differences = [
        scale.key(by_seed_a[s]) - scale.key(by_seed_b[s]) for s in sorted(by_seed_a.keys() & by_seed_b.keys())
    ]
    if not differences:
        return math.nan, math.nan, 0
    error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else math.nan
    return statistics.fmean(differences), error, len(differences)


def margin(error: float, scale: MetricScale, reference: float) -> float:
    """Two standard errors, at least the noise floor (twice it with one seed, which has no standard error)."""
    floor = ACCURACY_FLOOR if scale.percent else RELATIVE_FLOOR * abs(reference)
    return max(2 * error, floor) if math.isfinite(error) else 2 * floor


def difference_text(mean: float, error: float, n: int, scale: MetricScale) -> str:
    unit, factor = (" points", 100.0) if scale.percent else ("", 1.0)
    spread = f" ± {factor * error:.2f}" if math.isfinite(error) else ""
    return f"{factor * mean:+.2f}{spread}{unit} ({n} seed{'s' if n != 1 else ''})"
