"""λ* from a curve: the best weight decay of one setting, from its scores at several λ and seeds.

One estimator for every reader of λ*: a study's ridge (the best λ of each grid column), the transfer's
searches and the claims. Scores are ``log10 λ → seed → score``, larger is better, NaN where a run
diverged or was unstable.

λ* is estimated seed by seed: the maximum of a least-squares cubic in ``log10 λ`` through that seed's
scores within a window of the pooled best (five points after a search's refinements). A λ-curve is
asymmetric, flat toward small λ (the penalty stops mattering) and steep toward large λ, and a parabola's
vertex follows that skew: on a ridge problem with a closed-form optimum it fell up to 0.2 decades off
(``docs/design-notes.md``); the cubic stays within 0.04. Where the cubic has no maximum inside the points,
the parabola's vertex (through three points: the grid column's refinement); where neither opens
downward, the seed's best point.

Not every curve has an optimum to read. An estimate is of one :data:`KINDS`, and only an ``interior`` one
enters a law or a slope:

- ``at an edge``: the best λ is the smallest or largest tried, so λ* is only bounded;
- ``at a stability edge``: the next smaller λ tried was unstable or diverged (or the best does not beat the
  least decay that trained stably by more than the seeds' noise), so the best λ is the least decay that
  keeps this learning rate stable, not a regularization optimum (a lower α would tell);
- ``flat``: the best λ does not beat the smallest λ tried by more than the seeds' noise (a one-sided 95%
  t test of the paired differences, at least :data:`FLAT` of the curve's scale): decay does not matter there, and
  the "best" is chance. (Toward large λ a search grows until the best is inside; a curve flat there has
  its best at the edge.)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from decaylab.lab.statistics import Value, one_sided_margin, t_interval

Scores = Mapping[float, Mapping[int, float]]
"""``log10 λ → seed → score`` (larger is better; NaN for a diverged, unstable or missing run)."""

INTERIOR, EDGE, STABILITY_EDGE, FLAT_CURVE = "interior", "at an edge", "at a stability edge", "flat"
KINDS = (INTERIOR, EDGE, STABILITY_EDGE, FLAT_CURVE)
FLAT = 1e-3
"""Mean scores closer than this fraction of the curve's scale are equal whatever the seeds say: of the best
score's size or of the span from the worst point to the best, whichever is smaller (a span that diverging
large λ blow up, or a score near zero, must not make every small difference "flat")."""
WINDOW = 0.5
"""Each seed's curve goes through its scores within this many decades of the pooled best."""


def pooled(scores: Scores, seeds: Sequence[int]) -> dict[float, float]:
    """Each point's mean score over ``seeds`` (NaN if any of them diverged, was unstable or is missing)."""
    return {x: statistics.fmean(s.get(seed, math.nan) for seed in seeds) for x, s in scores.items()}


def best_point(scores: Scores, seeds: Sequence[int]) -> float | None:
    """The point with the best mean score over the seeds (None if none is finite)."""
    finite = {x: score for x, score in pooled(scores, seeds).items() if math.isfinite(score)}
    return max(finite, key=finite.__getitem__) if finite else None


def tolerance(scores: Scores, seeds: Sequence[int]) -> float:
    """:data:`FLAT` of the curve's scale: differences of mean scores below it are not differences."""
    finite = [score for score in pooled(scores, seeds).values() if math.isfinite(score)]
    if not finite:
        return 0.0
    return FLAT * min(abs(max(finite)), max(finite) - min(finite))


def flat_toward_zero(scores: Scores, seeds: Sequence[int], points: int) -> bool:
    """Whether the ``points`` smallest λ tried all score as well as the best, to within :func:`tolerance`: the
    curve is flat toward small λ, and its optimum there is not identified (a run on a ridge problem stopped
    early found its "best" λ at 1e-8 among points equal to 1e-5 of a loss of 0.76). The search stops
    growing its bracket there."""
    means = pooled(scores, seeds)
    finite = [score for score in means.values() if math.isfinite(score)]
    if len(means) < points or not finite:
        return False
    return all(means[x] >= max(finite) - tolerance(scores, seeds) for x in sorted(means)[:points])


def beats(scores: Scores, seeds: Sequence[int], best: float, other: float) -> bool:
    """Whether ``best`` scores above ``other`` by more than the seeds' noise: the mean of their paired
    differences lies above zero at 95% confidence (one-sided t), and by at least :func:`tolerance`. (A floor
    of 0.5% of the score, as the claims' comparisons use, called half-decade grid columns whose optimum
    beats its neighbour by 0.36 points of accuracy flat: the seeds' noise decides.)"""
    differences = [scores[best][s] - scores[other][s] for s in seeds]
    differences = [d for d in differences if math.isfinite(d)]
    if not differences:
        return True  # ``other`` diverged: anything finite beats it
    return statistics.fmean(differences) > one_sided_margin(differences, tolerance(scores, seeds))


def kind_of(scores: Scores, seeds: Sequence[int], best: float) -> str:
    """Which of :data:`KINDS` the curve's optimum at ``best`` is (module docstring)."""
    tried = sorted(scores)
    means = pooled(scores, seeds)
    below = tried[tried.index(best) - 1] if best != tried[0] else None
    smallest = next(x for x in tried if math.isfinite(means[x]))
    if below is not None and not math.isfinite(means[below]):
        return STABILITY_EDGE
    if smallest != tried[0] and not beats(scores, seeds, best, smallest):
        return STABILITY_EDGE  # flat from the least stable decay up: the edge decides, not regularization
    if best == tried[0] and not beats(scores, seeds, best, tried[1]):
        return FLAT_CURVE  # the lowest λ tried, no better than the next: decay does not matter down there
    if best in (tried[0], tried[-1]):
        return EDGE
    if not beats(scores, seeds, best, smallest):
        return FLAT_CURVE
    return INTERIOR


@dataclass(frozen=True)
class Estimate:
    """λ* of one setting: ``log10 λ*`` (the mean of the seeds' estimates) and its 95% interval.

    ``kind`` is one of :data:`KINDS`; ``low``/``high`` are NaN unless it is interior and there are at least
    3 seeds."""

    log_lambda: float
    low: float
    high: float
    per_seed: dict[int, float]
    kind: str
    best: float
    """The best point searched (mean score over seeds)."""

    @property
    def interior(self) -> bool:
        return self.kind == INTERIOR

    @property
    def has_interval(self) -> bool:
        return self.interior and math.isfinite(self.low)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def interior_value(estimate: Estimate | None) -> Value:
    """An interior estimate's ``log10 λ*`` with its interval; NaN for any other (none, at an edge, flat)."""
    if estimate is None or not estimate.interior:
        return Value(math.nan)
    return Value(estimate.log_lambda, estimate.low, estimate.high)


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
    kind = kind_of(scores, seeds, best)
    per_seed = {}
    for seed in seeds:
        near = [(x, s.get(seed, math.nan)) for x, s in scores.items() if abs(x - best) <= window + 1e-9]
        near = [(x, score) for x, score in near if math.isfinite(score)]
        if near:
            per_seed[seed] = seed_vertex(near)
    values = list(per_seed.values())
    centre = statistics.fmean(values) if values else best
    low, high = t_interval(values) if kind == INTERIOR else (math.nan, math.nan)
    return Estimate(centre, low, high, per_seed, kind, best)


def column_optimum(decays: Sequence[float], scores: Sequence[float], interior: bool = False) -> float | None:
    """``log10 λ*`` of one grid column (``scores``: larger is better): the best ``λ > 0``, refined by the
    parabola through it and its two neighbours in ``log λ``. At the edge of the grid the edge value, or None
    with ``interior=True`` (an edge only bounds λ*); None if no ``λ > 0`` is finite."""
    points = sorted((math.log10(d), s) for d, s in zip(decays, scores, strict=True) if d > 0 and math.isfinite(s))
    if not points:
        return None
    best = max(range(len(points)), key=lambda i: points[i][1])
    if best in (0, len(points) - 1):
        return None if interior else points[best][0]
    return seed_vertex(points[best - 1 : best + 2])
