"""λ* measured in rounds, not read off a grid.

For one setting (a task, a method, α, and the size, length and batch it trains with), the best weight
decay is found in rounds, each one grid-batched unit per seed:

1. a bracket: five λ a decade apart around a prior (the method's default grid), or half a decade apart around
   a law's prediction;
2. while the best λ (the mean over seeds) lies at the bracket's edge, the bracket grows two decades
   that way (at most :data:`EXTENSIONS` times, within [1e-9, 1e3]), unless the curve has gone flat
   toward small λ (:func:`flat_toward_zero`): there the penalty has stopped mattering, and no λ below
   does better than no decay. Where every point was unstable or diverged, it grows toward larger λ: a
   decoupled decay can hold a learning rate stable that no smaller one does (a stability edge);
3. around the best, the half-decade points, then the quarter-decade points.

Points lie on a lattice of quarter decades (``log10 λ = k/4``), so every round of every setting asks for
the same λ values and the store's run keys find them again; a prediction to be checked may add one
point off the lattice.

λ* is then read from the scores by :mod:`decaylab.lab.optimum`, the one estimator of λ* from a curve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from decaylab.lab.optimum import Scores, best_point, flat_toward_zero

BRACKET = (-2.0, -1.0, 0.0, 1.0, 2.0)
"""The first round: decades around the prior."""
GUIDED = (-1.0, -0.5, 0.0, 0.5, 1.0)
"""The first round around a law's prediction: half decades, since a law worth checking predicts within a decade
(one that does not grows the bracket as any search does). It saves three points of the held-out settings, which
train the most (the largest N, the longest run)."""
EXTENSION = (1, 2)
"""Decades added beyond an edge where the best λ lies."""
EXTENSIONS = 3
REFINEMENTS = (0.5, 0.25)
"""Then the points this far from the best, in this order."""
LOWEST, HIGHEST = -9.0, 3.0
"""The range of ``log10 λ`` searched."""


def on_lattice(log_lambda: float) -> float:
    """The nearest quarter decade: the grid every setting's points lie on."""
    return round(4 * log_lambda) / 4


def bracket(prior: float, offsets: Sequence[float] = BRACKET) -> list[float]:
    """The first round's points, ``offsets`` (decades) around ``prior`` (on the lattice)."""
    centre = on_lattice(prior)
    return [centre + offset for offset in offsets if LOWEST <= centre + offset <= HIGHEST]


def next_points(
    scores: Scores, seeds: Sequence[int], prior: float, extra: Sequence[float] = (), offsets: Sequence[float] = BRACKET
) -> list[float]:
    """The ``log10 λ`` to train in the next round; empty when the search is done.

    ``extra`` are points the first round trains too (a prediction to be checked); ``offsets`` the first round's
    points around ``prior`` (:data:`BRACKET`, or :data:`GUIDED` around a law's prediction).
    """
    if not scores:
        return sorted({*bracket(prior, offsets), *extra})
    best = best_point(scores, seeds)
    if best is not None and flat_toward_zero(scores, seeds, points=2):
        return []
    tried, first = sorted(scores), bracket(prior, offsets)
    if best is None:  # every point unstable or diverged: a larger decoupled decay may yet hold α stable
        best, edge = tried[-1], 1
    else:
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
    offsets: Sequence[float] = BRACKET,
) -> tuple[dict[float, Mapping[int, float]], list[float]]:
    """A search as far as the stored results take it: its scores so far, and the points its next round must
    train (empty when it is done). ``stored(log10 λ)`` gives a point's scores per seed, or None until every
    seed of it is stored. The rounds are a function of the scores, so a search stopped at any moment and
    replayed continues where it was."""
    scores: dict[float, Mapping[int, float]] = {}
    while points := next_points(scores, seeds, prior, extra, offsets):
        found = {x: stored(x) for x in points}
        missing = [x for x, point_scores in found.items() if point_scores is None]
        if missing:
            return scores, missing
        scores.update({x: point_scores for x, point_scores in found.items() if point_scores is not None})
    return scores, []
