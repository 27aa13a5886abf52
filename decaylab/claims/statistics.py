"""The verdict rules claims share: two cells' metrics paired by seed and what counts as a real difference,
and the one rule that decides a statement from a 95% interval (:func:`band_verdict`).

A comparison of two methods uses the test metric of each one's chosen cell, paired by seed,
turned so that larger is better (``MetricScale.key``).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

import numpy as np

from decaylab.analysis.cells import Cell, MethodGrid, MetricScale
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Coupling, Verdict, interval, not_measured, signed
from decaylab.lab.statistics import MIN_SEEDS, noise_floor, t_quantile
from decaylab.optim import METHODS


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


def margin(error: float, scale: MetricScale, reference: float, seeds: int) -> float:
    """The half-width of the 95% t interval of a mean difference over ``seeds`` seeds, at least the noise floor."""
    return max(t_quantile(seeds - 1) * error, noise_floor(scale.percent, reference))


def difference_text(mean: float, error: float, n: int, scale: MetricScale) -> str:
    unit, factor = (" points", 100.0) if scale.percent else ("", 1.0)
    spread = f" ± {factor * error:.2f}" if math.isfinite(error) else ""
    return f"{factor * mean:+.2f}{spread}{unit} ({n} seed{'s' if n != 1 else ''})"


def better(claim: str, a: Cell, b: Cell, grid: MethodGrid) -> Verdict:
    """``a`` beats ``b`` on the test metric, paired over seeds."""
    mean, error, n = paired_difference(a, b, grid.scale)
    if n < MIN_SEEDS:
        return too_few_seeds(claim, mean, error, n, grid)
    limit = margin(error, grid.scale, b.mean("test_metric"), n)
    verdict = HOLDS if mean > limit else FAILS if mean < -limit else INCONCLUSIVE
    rule = (
        f"holds if the difference exceeds {_shown(limit, grid)} (the 95% t margin over seeds, at least the noise "
        "floor); does not hold below minus that"
    )
    return Verdict(claim, difference_text(mean, error, n, grid.scale), verdict, rule)


def on_par(claim: str, a: Cell, b: Cell, grid: MethodGrid) -> Verdict:
    """``a`` and ``b`` within noise of each other on the test metric, paired over seeds."""
    mean, error, n = paired_difference(a, b, grid.scale)
    if n < MIN_SEEDS:
        return too_few_seeds(claim, mean, error, n, grid)
    limit = margin(error, grid.scale, b.mean("test_metric"), n)
    verdict = HOLDS if abs(mean) <= limit else FAILS if abs(mean) > 2 * limit else INCONCLUSIVE
    rule = f"holds if |difference| ≤ {_shown(limit, grid)}; does not hold beyond twice that"
    return Verdict(claim, difference_text(mean, error, n, grid.scale), verdict, rule)


def at_an_edge(claim: str, *placed: tuple[Cell, MethodGrid]) -> Verdict | None:
    """An inconclusive verdict if any compared cell lies at the edge of its grid (None if all are inside): a
    comparison of best cells never rests on an optimum that the grid may have cut off."""
    edges = [f"{cell.method} at {' and '.join(where)}" for cell, grid in placed if (where := grid.edges_of(cell))]
    if not edges:
        return None
    rule = "a best cell at the edge of its grid decides nothing; widen the grid there"
    return Verdict(claim, f"best cell at the grid's edge: {'; '.join(edges)}", INCONCLUSIVE, rule)


def too_few_seeds(claim: str, mean: float, error: float, n: int, grid: MethodGrid) -> Verdict:
    """A comparison over fewer than :data:`MIN_SEEDS` seeds decides nothing."""
    measured = difference_text(mean, error, n, grid.scale) if n else "no seed has both cells"
    return Verdict(claim, measured, INCONCLUSIVE, f"a comparison needs {MIN_SEEDS} seeds; {n} here")


def _shown(value: float, grid: MethodGrid) -> str:
    return f"{100 * value:.2f} points" if grid.scale.percent else f"{value:.3g}"


Band = tuple[float, float]


def band_verdict(
    claim: str,
    statistic: str,
    estimate: float,
    low: float,
    high: float,
    *,
    holds_within: Band,
    fails_outside: Band,
    rule: str,
    estimate_within: Band = (-math.inf, math.inf),
) -> Verdict:
    """The one interval rule every slope claim uses: the statement holds if the whole 95% interval
    ``[low, high]`` lies within ``holds_within`` (and the estimate within ``estimate_within``); it does not
    hold if the interval lies wholly outside ``fails_outside``; otherwise it is inconclusive. A point
    estimate alone decides nothing: a degenerate interval (``low = high``) is the caller's choice."""
    holds = holds_within[0] <= low and high <= holds_within[1]
    holds = holds and estimate_within[0] <= estimate <= estimate_within[1]
    fails = high < fails_outside[0] or low > fails_outside[1]
    return Verdict(claim, statistic, HOLDS if holds else FAILS if fails else INCONCLUSIVE, rule)


def slope_near_verdict(
    claim: str, expected: float, slope: float, low: float, high: float, settings: int, aside: str = ""
) -> Verdict:
    """Holds if the 95% interval lies within ``expected ± 0.5``; does not hold if it excludes that band
    entirely. ``aside`` follows the statistic (another prediction). No interval (fewer than 3 seeds): no
    verdict."""
    if settings < 3:
        return not_measured(claim, f"needs an interior best λ at 3 settings, found {settings}")
    if not math.isfinite(low):
        return not_measured(claim, f"slope {signed(slope)}, but a 95% interval needs {MIN_SEEDS} seeds")
    statistic = f"slope {signed(slope)}, 95% interval {interval(low, high)}" + (f"; {aside}" if aside else "")
    band = (expected - 0.5, expected + 0.5)
    rule = f"holds if the interval lies within [{band[0]:+g}, {band[1]:+g}]; does not hold if it lies outside"
    return band_verdict(claim, statistic, slope, low, high, holds_within=band, fails_outside=band, rule=rule)


DECOUPLED = 0.25
"""``|s| ≤ 0.25``: the best λ moves less than a quarter decade per decade of α."""
COUPLED = -0.5
"""``s < −0.5``: the best λ falls at least half a decade per decade of α."""


def decoupling_verdict(
    method: str,
    slope: float,
    low: float,
    high: float,
    columns: int,
    how: str,
    seeds: int = MIN_SEEDS,
    min_columns: int = 3,
    runs_per_seed: int | None = None,
) -> Verdict:
    """The rule: decided on the 95% interval of the slope (a point estimate alone decides nothing), which
    needs λ* interior at ``min_columns`` good columns and 3 seeds. An undecided slope says how many seeds (and
    with ``runs_per_seed``, runs) would decide it (:func:`seeds_to_decide`)."""
    expect = METHODS[method].coupling
    claim = f"{method}: α and λ are {expect}" + (" (the best λ stays put)" if expect == "decoupled" else "")
    if columns < min_columns:
        found = f"{columns} had it"
        return not_measured(claim, f"a slope needs λ* inside the searched range at {min_columns} good columns; {found}")
    if seeds < MIN_SEEDS or not math.isfinite(low):
        return not_measured(claim, f"s = {signed(slope)}, but a 95% interval needs {MIN_SEEDS} seeds; {seeds} here")
    statistic = f"s = {signed(slope)}, 95% interval {interval(low, high)} ({how}; {columns} columns)"
    if expect == "decoupled":
        rule = f"holds if the interval lies within [−{2 * DECOUPLED:g}, {2 * DECOUPLED:g}] and |s| ≤ {DECOUPLED}; "
        rule += f"does not hold if it lies outside [−{DECOUPLED}, {DECOUPLED}]"
    else:
        rule = f"holds if the whole interval lies below {COUPLED}; does not hold if it lies above −{DECOUPLED}"
    bands = decoupling_bands(expect)
    verdict = band_verdict(claim, statistic, slope, low, high, rule=rule, **bands)
    if verdict.verdict != INCONCLUSIVE:
        return verdict
    power = power_statement(slope, low, high, seeds, expect, runs_per_seed)
    return replace(verdict, statistic=f"{statistic}; {power}")


def power_statement(
    slope: float,
    low: float,
    high: float,
    seeds: int,
    expect: str | None,
    runs_per_seed: int | None = None,
    size: str = "at this grid's size",
) -> str:
    """How many seeds (and with ``runs_per_seed``, runs ``size``) would decide an undecided slope, in words
    (:func:`seeds_to_decide`)."""
    needed = seeds_to_decide(slope, low, high, seeds, expect)
    if needed is None:
        return f"not even {MAX_DECIDING_SEEDS} seeds would decide it at the s measured (it lies on a band's edge)"
    runs = f" ({needed * runs_per_seed:,} runs {size})" if runs_per_seed else ""
    return f"about {needed} seeds{runs} would decide it (80% power at the s and spread measured)"


def decoupling_bands(expect: str | None) -> dict[str, Band]:
    """:func:`band_verdict`'s bands for a rule expected to be ``decoupled`` (or coupled)."""
    if expect == "decoupled":
        return {
            "holds_within": (-2 * DECOUPLED, 2 * DECOUPLED),
            "estimate_within": (-DECOUPLED, DECOUPLED),
            "fails_outside": (-DECOUPLED, DECOUPLED),
        }
    return {"holds_within": (-math.inf, COUPLED), "fails_outside": (-math.inf, -DECOUPLED)}


MAX_DECIDING_SEEDS = 1000
"""The most seeds :func:`seeds_to_decide` looks for."""
POWER, POWER_DRAWS = 0.8, 4000
""":func:`seeds_to_decide` asks for 80% power, estimated from this many simulated repeats."""


def seeds_to_decide(slope: float, low: float, high: float, seeds: int, expect: str | None) -> int | None:
    """A power estimate, by simulation: the fewest seeds with which :func:`band_verdict` on the 95% t interval
    decides :func:`decoupling_verdict`'s statement, either way, in 80% of repeats, each seed's slope drawn around
    the slope measured with the spread over seeds measured. None if not even :data:`MAX_DECIDING_SEEDS` would
    (a slope on a band's edge, or between a coupled rule's two bands)."""
    spread = (high - low) / 2 * math.sqrt(seeds) / t_quantile(seeds - 1)  # the seeds' standard deviation
    bands = decoupling_bands(expect)
    (holds_low, holds_high), (fails_low, fails_high) = bands["holds_within"], bands["fails_outside"]
    estimate_low, estimate_high = bands.get("estimate_within", (-math.inf, math.inf))

    def decides(n: int) -> bool:
        draws = np.random.default_rng(0).normal(slope, spread, (POWER_DRAWS, n))
        centre = draws.mean(axis=1)
        half = t_quantile(n - 1) * draws.std(axis=1, ddof=1) / math.sqrt(n)
        holds = (holds_low <= centre - half) & (centre + half <= holds_high)
        holds &= (estimate_low <= centre) & (centre <= estimate_high)
        fails = (centre + half < fails_low) | (centre - half > fails_high)
        return float(np.mean(holds | fails)) >= POWER

    fewest = most = max(seeds, MIN_SEEDS)
    while not decides(most):  # doubling to a count that decides, then halving the gap to the fewest
        if most == MAX_DECIDING_SEEDS:
            return None
        fewest, most = most + 1, min(2 * most, MAX_DECIDING_SEEDS)
    while fewest < most:
        middle = (fewest + most) // 2
        fewest, most = (fewest, middle) if decides(middle) else (middle + 1, most)
    return most


def coupling_verdict(coupling: Coupling, min_columns: int = 3) -> Verdict:
    """:func:`decoupling_verdict` on a method's measured coupling (λ* searched at each good column)."""
    slope, seeds = coupling.slope, coupling.seeds
    how = f"λ* searched per column; t over {seeds} seeds"
    grid = len(coupling.grid.lrs) * len(coupling.grid.weight_decays)
    return decoupling_verdict(
        coupling.method, slope.centre, slope.low, slope.high, coupling.columns, how, seeds, min_columns, grid
    )
