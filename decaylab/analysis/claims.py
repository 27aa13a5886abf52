"""The post's claims as statistics with verdicts: pure functions of stored results.

Each check returns a :class:`Verdict`: the measured statistic with its uncertainty, and
``holds``, ``does not hold`` or ``inconclusive`` with the rule that decided. Accuracies are
fractions; differences are reported in percentage points.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from decaylab.analysis.cells import Cell, MethodGrid

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
DECOUPLED = 0.25
"""``|d log λ*/d log α| ≤ 0.25``: the best λ moves less than a quarter decade per decade of α."""
NOISE_FLOOR = 0.005
"""Differences under half a point of accuracy are not told apart, whatever the seeds say."""
GOOD_COLUMN = 0.05
"""A learning-rate column enters the ridge if its best cell is within 5 points of the grid's best
(or within noise, if that is wider): the ridge is where λ* sits wherever training works, and
on tasks whose accuracy hinges on α, noise alone would leave a single column."""


@dataclass(frozen=True)
class Verdict:
    claim: str
    statistic: str
    verdict: str
    rule: str


def parabola_vertex(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The ``x`` of the vertex of the parabola through three points, kept within them."""
    (x0, x1, x2), (y0, y1, y2) = xs, ys
    numerator = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    denominator = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if denominator == 0:
        return x1
    return min(max(x1 - 0.5 * numerator / denominator, x0), x2)


def best_log_decay(decays: Sequence[float], accuracies: Sequence[float], interior: bool = False) -> float | None:
    """``log10 λ*`` of one column: the best ``λ > 0``, refined by a parabola in ``log λ``.

    At the edge of the grid the edge value is returned, or ``None`` with ``interior=True``
    (an edge only bounds λ*); ``None`` if no ``λ > 0`` is finite.
    """
    points = [(math.log10(d), a) for d, a in zip(decays, accuracies, strict=True) if d > 0 and math.isfinite(a)]
    if not points:
        return None
    points.sort()
    best = max(range(len(points)), key=lambda i: points[i][1])
    if best == 0 or best == len(points) - 1:
        return None if interior else points[best][0]
    xs, ys = zip(*points[best - 1 : best + 2], strict=True)
    return parabola_vertex(xs, ys)


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares slope of ``ys`` on ``xs`` and its standard error (NaN with < 3 points)."""
    n = len(xs)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if n < 3:
        return slope, math.nan
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, math.sqrt(residual / (n - 2) / sxx)


def noise(cell: Cell) -> float:
    """What counts as a real accuracy difference near ``cell``: the margin of its seed spread."""
    return _margin(cell.spread("val_metric"))


@dataclass(frozen=True)
class Ridge:
    log_lrs: list[float]
    log_decays: list[float]
    slope: float
    error: float


def ridge(grid: MethodGrid) -> Ridge | None:
    """``λ*(α)`` over the good columns (:data:`GOOD_COLUMN`), and its slope."""
    best = grid.best()
    if best is None:
        return None
    threshold = best.mean("val_metric") - max(noise(best), GOOD_COLUMN)
    log_lrs, log_decays = [], []
    for lr in grid.lrs:
        column = [grid.cell(d, lr) for d in grid.weight_decays]
        accuracies = [c.mean("val_metric") for c in column]
        if max((a for a in accuracies if math.isfinite(a)), default=-math.inf) < threshold:
            continue
        log_decay = best_log_decay(grid.weight_decays, accuracies)
        if log_decay is not None:
            log_lrs.append(math.log10(lr))
            log_decays.append(log_decay)
    if len(log_lrs) < 2:
        return Ridge(log_lrs, log_decays, math.nan, math.nan)
    return Ridge(log_lrs, log_decays, *fit_slope(log_lrs, log_decays))


def decoupling(grid: MethodGrid, expect: str) -> Verdict:
    """Claim 1 for one method: ``expect`` is ``"decoupled"`` (|s| ≤ 0.25) or ``"coupled"`` (s < −0.5)."""
    fit = ridge(grid)
    claim = f"{grid.method}: α and λ are {expect}"
    if fit is None or len(fit.log_lrs) < 3 or not math.isfinite(fit.error):
        columns = 0 if fit is None else len(fit.log_lrs)
        return Verdict(claim, f"{columns} good columns", INCONCLUSIVE, "a slope needs at least 3 good columns")
    s, error = fit.slope, fit.error
    statistic = f"s = {s:+.2f} ± {error:.2f} over {len(fit.log_lrs)} columns"
    if expect == "decoupled":
        rule = f"holds if |s| ≤ {DECOUPLED}; does not hold if |s| − 2·se > {DECOUPLED}"
        verdict = HOLDS if abs(s) <= DECOUPLED else FAILS if abs(s) - 2 * error > DECOUPLED else INCONCLUSIVE
    else:
        rule = "holds if s < −0.5; does not hold if s − 2·se > −0.5"
        verdict = HOLDS if s < -0.5 else FAILS if s - 2 * error > -0.5 else INCONCLUSIVE
    return Verdict(claim, statistic, verdict, rule)


def paired_difference(a: Cell, b: Cell) -> tuple[float, float, int]:
    """Mean and standard error of ``acc(a) − acc(b)`` over the seeds both have."""
    by_seed_a = {r["seed"]: r["val_metric"] for r in a.runs if r["status"] == "done"}
    by_seed_b = {r["seed"]: r["val_metric"] for r in b.runs if r["status"] == "done"}
    differences = [by_seed_a[s] - by_seed_b[s] for s in sorted(by_seed_a.keys() & by_seed_b.keys())]
    if not differences:
        return math.nan, math.nan, 0
    error = statistics.stdev(differences) / math.sqrt(len(differences)) if len(differences) > 1 else math.nan
    return statistics.fmean(differences), error, len(differences)


def _margin(error: float) -> float:
    """Two standard errors, at least the noise floor (one seed has no standard error)."""
    return max(2 * error, NOISE_FLOOR) if math.isfinite(error) else 2 * NOISE_FLOOR


def better(claim: str, a: Cell, b: Cell) -> Verdict:
    """``a`` beats ``b`` (paired over seeds)."""
    mean, error, n = paired_difference(a, b)
    margin = _margin(error)
    statistic = f"{100 * mean:+.2f} ± {100 * error:.2f} points ({n} seeds)"
    verdict = HOLDS if mean > margin else FAILS if mean < -margin else INCONCLUSIVE
    rule = f"holds if the difference exceeds {100 * margin:.2f} points (2·se; 1 point with one seed)"
    return Verdict(claim, statistic, verdict, rule)


def on_par(claim: str, a: Cell, b: Cell) -> Verdict:
    """``a`` and ``b`` are within noise of each other (paired over seeds)."""
    mean, error, n = paired_difference(a, b)
    margin = _margin(error)
    statistic = f"{100 * mean:+.2f} ± {100 * error:.2f} points ({n} seeds)"
    verdict = HOLDS if abs(mean) <= margin else FAILS if abs(mean) > 2 * margin else INCONCLUSIVE
    rule = f"holds if |difference| ≤ {100 * margin:.2f} points; does not hold beyond twice that"
    return Verdict(claim, statistic, verdict, rule)


def late_improvement(epochs: Sequence[int], gap: Sequence[float]) -> Verdict:
    """Claim 3a: AdamW's lead over AdamL2 grows late in training (gap at the end vs half-way)."""
    middle, end = gap[len(gap) // 2], gap[-1]
    statistic = f"gap {100 * middle:+.2f} points at epoch {epochs[len(gap) // 2]}, {100 * end:+.2f} at the end"
    verdict = (
        HOLDS if end > 0 and end - middle > NOISE_FLOOR else FAILS if end - middle < -NOISE_FLOOR else INCONCLUSIVE
    )
    rule = f"holds if the final gap is positive and {100 * NOISE_FLOOR:g} points above the half-way gap"
    return Verdict("AdamW's advantage over AdamL2 appears late in training", statistic, verdict, rule)


def decay_vs_length(lengths: Sequence[int], log_decays: Sequence[float]) -> Verdict:
    """Claim 3b: the best λ depends on training length T (slope of log λ* on log T)."""
    claim = "the best λ shrinks as training gets longer"
    if len(lengths) < 2:
        return Verdict(claim, f"{len(lengths)} lengths", INCONCLUSIVE, "needs at least 2 training lengths")
    slope, error = fit_slope([math.log10(t) for t in lengths], log_decays)
    nearest = min((-0.5, "L&H's normalized decay"), (-1.0, "a constant τ/T"), (0.0, "a constant timescale"),
                  key=lambda ref: abs(ref[0] - slope))  # fmt: skip
    statistic = f"d log λ*/d log T = {slope:+.2f}" + (f" ± {error:.2f}" if math.isfinite(error) else "")
    statistic += f"; nearest {nearest[0]:+g} ({nearest[1]})"
    verdict = HOLDS if slope <= -DECOUPLED else FAILS if slope > -0.1 else INCONCLUSIVE
    return Verdict(claim, statistic, verdict, f"holds if the slope ≤ −{DECOUPLED}; does not hold if > −0.1")


def trajectories_close(decays: Sequence[float], distances: Sequence[float]) -> Verdict:
    """Claim 4: ProxAdam's and AdamW's trajectories agree for small η·λ and part as it grows."""
    pairs = sorted((d, x) for d, x in zip(decays, distances, strict=True) if d > 0 and math.isfinite(x))
    claim = "ProxAdam ≈ AdamW when η·λ is small"  # distances: of a step, or of whole runs
    if len(pairs) < 3:
        return Verdict(claim, f"{len(pairs)} values of λ", INCONCLUSIVE, "needs at least 3 values of λ > 0")
    smallest = pairs[0][1]
    increasing = sum(b[1] >= a[1] for a, b in itertools.pairwise(pairs)) / (len(pairs) - 1)
    statistic = (
        f"relative gap {100 * smallest:.2g}% at λ = {pairs[0][0]:g}, {100 * pairs[-1][1]:.2g}% at λ = {pairs[-1][0]:g}"
    )
    verdict = HOLDS if smallest <= 0.01 and increasing >= 0.75 else FAILS if smallest > 0.05 else INCONCLUSIVE
    rule = "holds if ≤ 1% at the smallest λ and growing with λ (≥ 3/4 of steps); does not hold if > 5% at the smallest"
    return Verdict(claim, statistic, verdict, rule)


def decay_shift(method: str, scale: float, shift: float, expected: float) -> Verdict:
    """Claim 5: multiplying the loss by ``scale`` moves the best λ by ``expected`` decades."""
    claim = f"{method}: loss × {scale:g} moves the best λ by {expected:g} decades"
    if not math.isfinite(shift):
        return Verdict(claim, "no best λ", INCONCLUSIVE, "needs a best λ > 0 at both scales")
    verdict = HOLDS if abs(shift - expected) <= 0.5 else FAILS if abs(shift - expected) > 1.0 else INCONCLUSIVE
    rule = "holds within ±0.5 decade; does not hold beyond ±1"
    return Verdict(claim, f"shift {shift:+.2f} decades", verdict, rule)


def equilibrium_rotation(decay_per_step: float, beta1: float) -> float:
    """Kosson et al. (2024): the per-step rotation at equilibrium, ``√(2d(1−β₁)/(1+β₁))``."""
    return math.sqrt(2 * decay_per_step * (1 - beta1) / (1 + beta1))


def rotation_equilibrium(measured: Sequence[float], decay_per_step: float, steps: int, beta1: float) -> Verdict:
    """Claim 6a: with decay, BN-fed weights rotate at Kosson et al.'s equilibrium rate."""
    predicted = equilibrium_rotation(decay_per_step, beta1)
    ratio = statistics.fmean(measured) / predicted
    claim = "with decay, the rotation of BN-fed weights settles at the predicted equilibrium"
    statistic = f"measured / predicted = {ratio:.2f} (predicted {predicted:.2e} rad/step, {len(measured)} layers)"
    if steps * decay_per_step < 3:
        return Verdict(claim, statistic, INCONCLUSIVE, "equilibrium needs ≥ 3/d steps; training was shorter")
    verdict = HOLDS if 0.5 <= ratio <= 2 else FAILS if not 1 / 3 <= ratio <= 3 else INCONCLUSIVE
    return Verdict(claim, statistic, verdict, "holds if the ratio is within [0.5, 2]; does not hold outside [1/3, 3]")


def no_decay_growth(norm_growth: float, rotation_decline: float) -> Verdict:
    """Claim 6b: without decay the norm grows and the rotation decays."""
    statistic = f"norm ×{norm_growth:.2f}, rotation ×{rotation_decline:.2f} from first to last epoch"
    grows, slows = norm_growth > 1.05, rotation_decline < 0.7
    verdict = HOLDS if grows and slows else FAILS if norm_growth < 1 or rotation_decline > 1 else INCONCLUSIVE
    rule = "holds if the norm grows > 5% and the rotation falls > 30%; does not hold if either moves the other way"
    return Verdict("without decay, BN-fed weights grow and rotate ever slower", statistic, verdict, rule)


def uneven_rotation(spread_l2: float, spread_w: float) -> Verdict:
    """Claim 6c: AdamL2 rotates layers more unevenly than AdamW (max/min rotation across layers)."""
    statistic = f"max/min rotation across layers: AdamL2 {spread_l2:.2f}, AdamW {spread_w:.2f}"
    verdict = HOLDS if spread_l2 > 1.25 * spread_w else FAILS if spread_l2 < spread_w else INCONCLUSIVE
    rule = "holds if AdamL2's ratio exceeds AdamW's by 25%; does not hold if it is smaller"
    return Verdict("AdamL2 rotates layers unevenly", statistic, verdict, rule)
