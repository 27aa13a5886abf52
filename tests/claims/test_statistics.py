"""The shared statistics on constructed grids whose answers are known."""

import math

import pytest

from decaylab.analysis import ridges
from decaylab.analysis.ridges import decay_ridge, slope_interval
from decaylab.claims.statistics import paired_difference
from decaylab.lab.optimum import column_optimum
from decaylab.lab.statistics import fit_slope

from .grids import LRS, grid, ridge_with_slope


def test_the_parabola_refines_the_best_decay_between_grid_points():
    decays = [1e-4, 1e-3, 1e-2]
    scores = [0.9 - (math.log10(d) + 2.6) ** 2 for d in decays]
    assert column_optimum(decays, scores) == pytest.approx(-2.6)
    assert column_optimum([0.0, 1e-3, 1e-2], [0.9, 0.5, 0.4]) == pytest.approx(-3)  # the edge
    assert column_optimum([0.0, 1e-3, 1e-2], [0.9, 0.5, 0.4], interior=True) is None  # only a bound
    assert column_optimum([0.0], [0.9]) is None


def test_a_slope_and_its_standard_error():
    assert fit_slope([0, 1, 2], [1, 3, 5]) == pytest.approx((2.0, 0.0))
    assert math.isnan(fit_slope([0, 1], [0, 1])[1]) and math.isnan(fit_slope([1, 1], [0, 1])[0])


@pytest.mark.parametrize("slope", [0.0, -1.0, -0.5, 0.7])
def test_a_ridge_of_known_slope_is_measured(slope):
    assert decay_ridge(grid(ridge_with_slope(slope))).slope == pytest.approx(slope, abs=0.05)


def test_only_columns_where_training_works_enter_the_ridge():
    # only the two largest learning rates come within 5 points of the best accuracy
    peaked = grid(ridge_with_slope(0.0, height=lambda lr: 0.9 if lr >= 1e-2 else 0.8))
    assert len(decay_ridge(peaked).log_lrs) == 2


def test_a_column_whose_best_decay_lies_at_the_grids_edge_only_bounds_it_and_is_left_out():
    ridge = ridge_with_slope(0.0)

    def undertrained_at_small_lr(lr, decay, seed=0):  # at α = 1e-4 λ barely matters: the smallest λ wins by a hair
        return 0.9 - 1e-4 * math.log10(decay) if lr == 1e-4 and decay > 0 else ridge(lr, decay, seed)

    fit = decay_ridge(grid(undertrained_at_small_lr))
    assert -4 not in fit.log_lrs and len(fit.log_lrs) == len(LRS) - 1
    assert fit.slope == pytest.approx(0.0, abs=0.05)


def test_the_seeds_interval_is_narrow_when_seeds_agree_wide_when_they_do_not_and_absent_with_one():
    low, high, how = slope_interval(grid(ridge_with_slope(-1.0)))
    assert low == pytest.approx(-1.0, abs=0.05) and high == pytest.approx(-1.0, abs=0.05) and "t over 3 seeds" in how
    noisy_low, noisy_high, _ = slope_interval(grid(ridge_with_slope(-1.0, jitter=1.5), seeds=(0, 1, 2, 3, 4)))
    assert noisy_high - noisy_low > 0.1 and noisy_low < -1.0 < noisy_high
    one_low, one_high, one_how = slope_interval(grid(ridge_with_slope(0.0), seeds=(0,)))
    assert math.isnan(one_low) and math.isnan(one_high) and "no interval" in one_how


def test_the_top_cells_lie_along_the_ridge():
    half_decades = [0.0] + [10 ** (k / 2) * 1e-6 for k in range(12)]
    slope, count = ridges.top_cells_slope(grid(ridge_with_slope(-1.0), decays=half_decades))
    assert slope == pytest.approx(-1.0, abs=0.25) and count >= 3


def test_a_paired_difference_is_taken_seed_by_seed_in_the_metrics_direction():
    a = grid(lambda lr, d, s: 0.9 + 0.01 * s, seeds=(0, 1, 2)).cell(0.0, 1e-3)
    b = grid(lambda lr, d, s: 0.88 + 0.01 * s, seeds=(0, 1, 2)).cell(0.0, 1e-3)
    mean, error, n = paired_difference(a, b, grid(lambda *_: 0).scale)
    assert (mean, error, n) == (pytest.approx(0.02), pytest.approx(0.0, abs=1e-12), 3)
    losses = grid(lambda *_: 0, metric="loss")
    lower = grid(lambda lr, d, s: 1.0, metric="loss").cell(0.0, 1e-3)
    higher = grid(lambda lr, d, s: 1.2, metric="loss").cell(0.0, 1e-3)
    assert paired_difference(lower, higher, losses.scale)[0] == pytest.approx(0.2)  # a lower loss is better


def test_an_undecided_slope_says_how_many_seeds_would_decide_it_and_that_many_do():
    """The power estimate on simulated seeds: slopes drawn around s with the measured spread; at the number of
    seeds it names, the interval decides the statement in about 4 draws of 5, and at the seeds measured it did not."""
    import random
    import statistics

    from decaylab.claims.base import INCONCLUSIVE
    from decaylab.claims.statistics import decoupling_verdict, seeds_to_decide
    from decaylab.lab.statistics import t_interval

    draw = random.Random(0)
    three = [0.1 + 0.4 * draw.gauss(0, 1) for _ in range(3)]
    low, high = t_interval(three)
    centre = statistics.fmean(three)
    verdict = decoupling_verdict("muonw", centre, low, high, 4, "t", seeds=3, runs_per_seed=25)
    needed = seeds_to_decide(centre, low, high, 3, "decoupled")
    assert verdict.verdict == INCONCLUSIVE and f"about {needed} seeds ({needed * 25:,} runs at" in verdict.statistic
    spread = statistics.stdev(three)
    decided = 0
    for _ in range(200):
        slopes = [centre + spread * draw.gauss(0, 1) for _ in range(needed)]
        low_n, high_n = t_interval(slopes)
        decided += decoupling_verdict("muonw", statistics.fmean(slopes), low_n, high_n, 4, "t", needed).verdict != (
            INCONCLUSIVE
        )
    assert decided >= 140  # 80% power at the slope and spread measured: 160 of 200 expected
    between = decoupling_verdict("muonw", 0.3, 0.29, 0.31, 4, "t", 3)  # just outside ±0.25, interval tight
    assert "does not hold" in between.verdict or "seeds" not in between.statistic
    assert seeds_to_decide(-0.4, -0.6, -0.2, 3, "coupled") is None  # between −0.5 and −0.25: no number decides
    assert seeds_to_decide(0.25, 0.2, 0.3, 3, "decoupled") is None  # on the edge: never 80% either way
