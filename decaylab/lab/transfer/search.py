"""λ* measured in rounds, not read off a grid.

For one setting (a task, a method, α, and the size, length and batch it trains with), the best weight
decay is found in rounds, each one grid-batched unit per seed:

1. a bracket: five λ a decade apart around a prior (the method's default grid, or a law's prediction);
2. while the best λ (the mean over seeds) lies at the bracket's edge, the bracket grows two decades
   that way (at most :data:`EXTENSIONS` times, within [1e-9, 1e3]), unless the curve has gone flat
   toward small λ (:func:`flat_toward_zero`): there the penalty has stopped mattering, and no λ below
   does better than no decay;
3. around the best, the half-decade points, then the quarter-decade points.

Points lie on a lattice of quarter decades (``log10 λ = k/4``), so every round of every setting asks for
the same λ values and the store's run keys find them again; a prediction to be checked may add one
point off the lattice.

λ* is then estimated seed by seed: the maximum of a least-squares cubic in ``log10 λ`` through that
seed's scores within half a decade of the pooled best (five points after the refinements). A λ-curve is
asymmetric, flat toward small λ (the penalty stops mattering) and steep toward large λ, and a parabola's
vertex follows that skew: on a ridge problem with a closed-form optimum it fell up to 0.2 decades off
(``docs/design-notes.md``); the cubic stays within 0.04. Where the cubic has no maximum inside the
points, the parabola's vertex; where neither opens downward, the seed's best point.

The 95% interval is Student's t over the seeds' estimates: it accounts for the scatter between seeds,
which a bootstrap over 3 seeds cannot, and with fewer than :data:`MIN_SEEDS` seeds there is none. Its
coverage is tested on simulated curves with a known optimum, symmetric and skewed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

BRACKET = (-2, -1, 0, 1, 2)
"""The first round: decades around the prior."""
EXTENSION = (1, 2)
"""Decades added beyond an edge where the best λ lies."""
EXTENSIONS = 3
REFINEMENTS = (0.5, 0.25)
"""Then the points this far from the best, in this order."""
WINDOW = 0.5
"""Each seed's parabola goes through its scores within this many decades of the pooled best."""
FLAT = 1e-3
"""Mean scores closer than this fraction of the curve's scale count as equal: of the best score's size or of
the span from the worst point to the best, whichever is smaller (a span that diverging large λ blow up, or a
score near zero, must not make every small difference "flat")."""
LOWEST, HIGHEST = -9.0, 3.0
"""The range of ``log10 λ`` searched."""
MIN_SEEDS = 3
"""No interval from fewer seeds: with two, Student's t has one degree of freedom and an interval is
wider than any grid."""

Scores = Mapping[float, Mapping[int, float]]
"""``log10 λ → seed → score`` (larger is better; NaN for a diverged or missing run)."""


def on_lattice(log_lambda: float) -> float:
    """The nearest quarter decade: the grid every setting's points lie on."""
    return round(4 * log_lambda) / 4


def bracket(prior: float) -> list[float]:
    """The first round's points, a decade apart around ``prior`` (on the lattice)."""
    centre = on_lattice(prior)
    return [centre + offset for offset in BRACKET if LOWEST <= centre + offset <= HIGHEST]


def pooled(scores: Scores, seeds: Sequence[int]) -> dict[float, float]:
    """Each point's mean score over ``seeds`` (NaN if any of them diverged or is missing)."""
    return {x: statistics.fmean(s.get(seed, math.nan) for seed in seeds) for x, s in scores.items()}


def best_point(scores: Scores, seeds: Sequence[int]) -> float | None:
    """The point with the best mean score over the seeds (None if none is finite)."""
    finite = {x: score for x, score in pooled(scores, seeds).items() if math.isfinite(score)}
    return max(finite, key=finite.__getitem__) if finite else None


def flat_toward_zero(scores: Scores, seeds: Sequence[int], points: int) -> bool:
    """Whether the ``points`` smallest λ tried all score as well as the best, to within :data:`FLAT` of the
    curve's span: the curve is flat toward small λ, and its optimum there is not identified (a run on a
    ridge problem stopped early found its "best" λ at 1e-8 among points equal to 1e-5 of a loss of 0.76)."""
    means = pooled(scores, seeds)
    finite = [score for score in means.values() if math.isfinite(score)]
    if len(means) < points or not finite:
        return False
    top = max(finite)
    tolerance = FLAT * min(abs(top), top - min(finite))
    return all(means[x] >= top - tolerance for x in sorted(means)[:points])


def next_points(scores: Scores, seeds: Sequence[int], prior: float, extra: Sequence[float] = ()) -> list[float]:
    """The ``log10 λ`` to train in the next round; empty when the search is done.

    ``extra`` are points the first round trains too (a prediction to be checked).
    """
    if not scores:
        return sorted({*bracket(prior), *extra})
    best = best_point(scores, seeds)
    if best is None:  # every point diverged: no λ helps; α is too large
        return []
    if flat_toward_zero(scores, seeds, points=2):
        return []
    tried, first = sorted(scores), bracket(prior)
    edge = -1 if best == tried[0] else 1 if best == tried[-1] else 0
    if edge:
        beyond = [on_lattice(best) + edge * step for step in EXTENSION]
        grown = [x for x in tried if x == on_lattice(x) and not first[0] <= x <= first[-1]]
        within = all(LOWEST <= x <= HIGHEST for x in beyond)
        return beyond if within and len(grown) < EXTENSIONS * len(EXTENSION) else []
    for step in REFINEMENTS:
        missing = [x for x in (on_lattice(best - step), on_lattice(best + step)) if x not in scores]
        if missing:
            return missing
    return []


def replay(
    stored: Callable[[float], Mapping[int, float] | None],
    seeds: Sequence[int],
    prior: float,
    extra: Sequence[float] = (),
) -> tuple[dict[float, Mapping[int, float]], list[float]]:
    """A search as far as the stored results take it: its scores so far, and the points its next round must
    train (empty when it is done). ``stored(log10 λ)`` gives a point's scores per seed, or None until every
    seed of it is stored. The rounds are a function of the scores, so a search stopped at any moment and
    replayed continues where it was."""
    scores: dict[float, Mapping[int, float]] = {}
    while points := next_points(scores, seeds, prior, extra):
        found = {x: stored(x) for x in points}
        missing = [x for x, point_scores in found.items() if point_scores is None]
        if missing:
            return scores, missing
        scores.update({x: point_scores for x, point_scores in found.items() if point_scores is not None})
    return scores, []


@dataclass(frozen=True)
class Estimate:
    """λ* of one setting: ``log10 λ*`` (the mean of the seeds' estimates) and its 95% interval.

    ``interior`` is False when the best λ lies at the edge of what was searched (λ* is then only
    bounded); ``low``/``high`` are NaN with fewer than :data:`MIN_SEEDS` seeds or an edge.
    """

    log_lambda: float
    low: float
    high: float
    per_seed: dict[int, float]
    interior: bool
    best: float
    """The best point searched (mean score over seeds)."""

    @property
    def has_interval(self) -> bool:
        return self.interior and math.isfinite(self.low)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def seed_vertex(points: Sequence[tuple[float, float]]) -> float:
    """The ``x`` of the best score of one seed (module docstring): a least-squares cubic's maximum inside the
    points (five or more), else a parabola's vertex kept within them, else the best point."""
    xs, ys = np.array([x for x, _ in points]), np.array([y for _, y in points])
    best = float(xs[int(np.argmax(ys))])
    if len(points) >= 5:
        slope = np.polyder(np.polyfit(xs, ys, 3))
        maxima = [
            float(r.real)
            for r in np.roots(slope)
            if abs(r.imag) < 1e-12 and xs.min() <= r.real <= xs.max() and np.polyval(np.polyder(slope), r.real) < 0
        ]
        if maxima:
            return min(maxima, key=lambda x: abs(x - best))
    if len(points) >= 3:
        curvature, slope_at_zero, _ = np.polyfit(xs, ys, 2)
        if curvature < 0:
            return float(np.clip(-slope_at_zero / (2 * curvature), xs.min(), xs.max()))
    return best


def estimate(scores: Scores, seeds: Sequence[int], window: float = WINDOW) -> Estimate | None:
    """λ* of a finished search (None if no point is finite): each seed's vertex over the points within ``window``
    decades of the best one."""
    best = best_point(scores, seeds)
    if best is None:
        return None
    tried = sorted(scores)
    interior = tried[0] < best < tried[-1] and not flat_toward_zero(scores, seeds, points=1)
    per_seed = {}
    for seed in seeds:
        near = [(x, s.get(seed, math.nan)) for x, s in scores.items() if abs(x - best) <= window + 1e-9]
        near = [(x, score) for x, score in near if math.isfinite(score)]
        if near:
            per_seed[seed] = seed_vertex(near)
    values = list(per_seed.values())
    centre = statistics.fmean(values) if values else best
    low, high = t_interval(values) if interior else (math.nan, math.nan)
    return Estimate(centre, low, high, per_seed, interior, best)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student's t interval for the mean of ``values``; NaN with fewer than :data:`MIN_SEEDS` values."""
    if len(values) < MIN_SEEDS:
        return math.nan, math.nan
    centre, error = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * error
    return centre - half, centre + half
