"""The statistics every result shares: the minimum number of seeds, Student's t intervals over seeds, a
number with its interval, a least-squares slope, and the noise floor below which two metrics are not told
apart. Study ridges, the λ* search, the transfer's laws and the claims' verdicts all use these, so an
interval means the same thing in every report.

An interval called 95% is Student's t over seeds: it accounts for the scatter between seeds (their
initialization, batch order and, in a transfer, their draw of the training set), which a bootstrap over
3 seeds cannot. Its coverage is tested on simulated data with a known truth (``tests/lab``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

MIN_SEEDS = 3
"""No interval, and no verdict, from fewer seeds: with two, Student's t has one degree of freedom and an
interval is wider than any grid."""
ACCURACY_FLOOR = 0.005
"""Differences of accuracy under half a point are not told apart, whatever the seeds say."""
RELATIVE_FLOOR = 0.005
"""For other metrics, differences under 0.5% of the value."""


def t_quantile(dof: int, level: float = 0.95) -> float:
    """The two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom."""
    return float(stats.t.ppf(0.5 + level / 2, dof))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student's t interval for the mean of ``values``; NaN with fewer than :data:`MIN_SEEDS` values."""
    if len(values) < MIN_SEEDS:
        return math.nan, math.nan
    centre, error = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = t_quantile(len(values) - 1, level) * error
    return centre - half, centre + half


def noise_floor(percent: bool, reference: float) -> float:
    """The smallest difference of a metric that counts: half a point of accuracy, else 0.5% of ``reference``."""
    return ACCURACY_FLOOR if percent else RELATIVE_FLOOR * abs(reference)


def one_sided_margin(differences: Sequence[float], floor: float) -> float:
    """How far the mean of paired ``differences`` (one per seed) must lie above zero to be above it at 95%
    confidence (one-sided t), and at least ``floor``; just ``floor`` with fewer than two differences."""
    if len(differences) < 2:
        return floor
    error = statistics.stdev(differences) / math.sqrt(len(differences))
    return max(t_quantile(len(differences) - 1, level=0.90) * error, floor)


@dataclass(frozen=True)
class Value:
    """A number with its 95% interval (NaN bounds: none)."""

    centre: float
    low: float = math.nan
    high: float = math.nan

    @classmethod
    def over_seeds(cls, values: Sequence[float]) -> Value:
        """The mean of per-seed values and its t interval."""
        return cls(statistics.fmean(values), *t_interval(values)) if values else cls(math.nan)

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def plus(self, shift: float) -> Value:
        return Value(self.centre + shift, self.low + shift, self.high + shift)

    def negated(self) -> Value:
        return Value(-self.centre, -self.high, -self.low)


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of ``ys`` on ``xs`` and its standard error (the error is NaN with 2 points, both
    are NaN with fewer, or when all ``xs`` are equal)."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return math.nan, math.nan
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if len(xs) < 3:
        return slope, math.nan
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, math.sqrt(residual / (len(xs) - 2) / sxx)


def sign_of(higher_is_better: bool) -> float:
    """+1 where a larger score is better, −1 where a smaller one is: a score times this is larger-is-better."""
    return 1.0 if higher_is_better else -1.0
