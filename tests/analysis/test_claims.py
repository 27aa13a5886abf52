"""Every verdict rule on constructed results whose answer is known, inconclusive cases included."""

import math

import pytest

from decaylab.analysis import claims
from decaylab.analysis.cells import method_grids
from decaylab.analysis.claims import FAILS, HOLDS, INCONCLUSIVE

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def grid(accuracy, method="m", seeds=(0, 1), noise=0.0):
    """A method grid whose test accuracy is ``accuracy(lr, λ)`` (+ ``noise`` alternating by seed)."""
    rows = [
        {"method": method, "lr": lr, "weight_decay": d, "seed": s, "status": "done", "key": f"{lr}-{d}-{s}",
         "val_metric": accuracy(lr, d) + noise * (-1) ** s, "val_loss": 1.0, "train_loss": 1.0,
         "metric": "accuracy", "higher_is_better": 1, "selected_on": "validation"}
        for lr in LRS for d in DECAYS for s in seeds
    ]  # fmt: skip
    return method_grids(rows, [method])[0]


def ridge_with_slope(slope, height=lambda lr: 0.9):
    """Accuracy peaked at ``log λ* = −3 + slope·(log α + 3)``: a ridge of known slope."""

    def accuracy(lr, decay):
        if decay == 0:
            return height(lr) - 0.2
        centre = -3 + slope * (math.log10(lr) + 3)
        return height(lr) - 0.01 * (math.log10(decay) - centre) ** 2

    return accuracy


def test_the_parabola_refines_the_best_decay_between_grid_points():
    decays = [1e-4, 1e-3, 1e-2]
    accuracies = [0.9 - (math.log10(d) + 2.6) ** 2 for d in decays]
    assert claims.best_log_decay(decays, accuracies) == pytest.approx(-2.6)
    assert claims.best_log_decay([0.0, 1e-3, 1e-2], [0.9, 0.5, 0.4]) == pytest.approx(-3)  # the edge
    assert claims.best_log_decay([0.0, 1e-3, 1e-2], [0.9, 0.5, 0.4], interior=True) is None  # only a bound
    assert claims.best_log_decay([0.0], [0.9]) is None


@pytest.mark.parametrize("slope", [0.0, -1.0, -0.5])
def test_a_ridge_of_known_slope_is_measured(slope):
    fit = claims.ridge(grid(ridge_with_slope(slope)))
    assert fit is not None and fit.slope == pytest.approx(slope, abs=0.05)


def test_decoupling_verdicts():
    flat, steep = grid(ridge_with_slope(0.0)), grid(ridge_with_slope(-1.0))
    assert claims.decoupling(flat, "decoupled").verdict == HOLDS
    assert claims.decoupling(steep, "decoupled").verdict == FAILS
    assert claims.decoupling(steep, "coupled").verdict == HOLDS
    assert claims.decoupling(flat, "coupled").verdict == FAILS


def test_decoupling_is_inconclusive_with_too_few_good_columns():
    # only the two largest learning rates come within 5 points of the best accuracy
    peaked = grid(ridge_with_slope(0.0, height=lambda lr: 0.9 if lr >= 1e-2 else 0.8))
    verdict = claims.decoupling(peaked, "decoupled")
    assert verdict.verdict == INCONCLUSIVE and "2 good columns" in verdict.statistic


def two_cells(difference, seed_noise):
    a = grid(lambda lr, d: 0.9 + difference, noise=seed_noise, seeds=(0, 1, 2, 3)).cell(1e-3, 1e-3)
    b = grid(lambda lr, d: 0.9, seeds=(0, 1, 2, 3)).cell(1e-3, 1e-3)
    return a, b


def test_paired_comparison_verdicts():
    assert claims.better("a beats b", *two_cells(0.03, 0.001)).verdict == HOLDS
    assert claims.better("a beats b", *two_cells(-0.03, 0.001)).verdict == FAILS
    assert claims.better("a beats b", *two_cells(0.001, 0.02)).verdict == INCONCLUSIVE
    assert claims.on_par("a ~ b", *two_cells(0.001, 0.001)).verdict == HOLDS
    assert claims.on_par("a ~ b", *two_cells(0.05, 0.001)).verdict == FAILS
    assert claims.on_par("a ~ b", *two_cells(0.008, 0.001)).verdict == INCONCLUSIVE  # between 1 and 2 margins


def test_late_improvement_verdicts():
    epochs = list(range(1, 11))
    assert claims.late_improvement(epochs, [0.0] * 5 + [0.0, 0.005, 0.01, 0.015, 0.02]).verdict == HOLDS
    assert claims.late_improvement(epochs, [0.03] * 5 + [0.03, 0.02, 0.01, 0.0, 0.0]).verdict == FAILS
    assert claims.late_improvement(epochs, [0.01] * 10).verdict == INCONCLUSIVE


def test_decay_versus_training_length_verdicts():
    lengths = [10, 20, 40]
    halving = [-3 - 0.5 * math.log10(t / 10) for t in lengths]
    verdict = claims.decay_vs_length(lengths, halving)
    assert verdict.verdict == HOLDS and "L&H's normalized decay" in verdict.statistic
    assert claims.decay_vs_length(lengths, [-3, -3, -3]).verdict == FAILS
    assert claims.decay_vs_length(lengths, [-3, -3.05, -3.1]).verdict == INCONCLUSIVE
    assert claims.decay_vs_length([10], [-3]).verdict == INCONCLUSIVE


def test_trajectory_distance_verdicts():
    decays = [1e-4, 1e-3, 1e-2, 1e-1]
    assert claims.trajectories_close(decays, [0.001, 0.004, 0.02, 0.1]).verdict == HOLDS
    assert claims.trajectories_close(decays, [0.2, 0.2, 0.3, 0.4]).verdict == FAILS
    assert claims.trajectories_close(decays, [0.02, 0.03, 0.04, 0.05]).verdict == INCONCLUSIVE
    assert claims.trajectories_close(decays[:2], [0.0, 0.1]).verdict == INCONCLUSIVE


def test_decay_shift_verdicts():
    assert claims.decay_shift("adaml2", 100, 1.9, 2).verdict == HOLDS
    assert claims.decay_shift("adamw", 100, 0.1, 0).verdict == HOLDS
    assert claims.decay_shift("adamw", 100, 2.0, 0).verdict == FAILS
    assert claims.decay_shift("adamw", 100, 0.8, 0).verdict == INCONCLUSIVE
    assert claims.decay_shift("adamw", 100, math.nan, 0).verdict == INCONCLUSIVE


def test_rotation_verdicts():
    predicted = claims.equilibrium_rotation(1e-3, 0.9)
    assert predicted == pytest.approx(math.sqrt(2e-3 * 0.1 / 1.9))
    assert claims.rotation_equilibrium([predicted, 1.2 * predicted], 1e-3, 10_000, 0.9).verdict == HOLDS
    assert claims.rotation_equilibrium([5 * predicted], 1e-3, 10_000, 0.9).verdict == FAILS
    assert claims.rotation_equilibrium([2.5 * predicted], 1e-3, 10_000, 0.9).verdict == INCONCLUSIVE
    assert claims.rotation_equilibrium([predicted], 1e-3, 100, 0.9).verdict == INCONCLUSIVE  # too short
    assert claims.no_decay_growth(1.5, 0.4).verdict == HOLDS
    assert claims.no_decay_growth(0.9, 0.4).verdict == FAILS
    assert claims.no_decay_growth(1.02, 0.9).verdict == INCONCLUSIVE
    assert claims.uneven_rotation(3.0, 1.5).verdict == HOLDS
    assert claims.uneven_rotation(1.2, 1.5).verdict == FAILS
    assert claims.uneven_rotation(1.6, 1.5).verdict == INCONCLUSIVE
