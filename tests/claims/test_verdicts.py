"""Every claim's verdict rule on constructed results: one case where it holds, one where it does not, one
inconclusive."""

import math

import pytest

from decaylab.analysis.ridges import decay_ridge, slope_interval
from decaylab.claims import registry
from decaylab.claims.adamc import drift_verdict
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Unmeasured
from decaylab.claims.late import CLAIM as LATE
from decaylab.claims.late import late_verdict
from decaylab.claims.proximal import proximal_verdict
from decaylab.claims.rotation import equilibrium_rotation, equilibrium_verdict, growth_verdict, uneven_verdict
from decaylab.claims.scale import shift_verdict
from decaylab.claims.statistics import (
    at_an_edge,
    better,
    coupling_verdict,
    decoupling_verdict,
    on_par,
    slope_near_verdict,
)
from decaylab.lab.optimum import Estimate
from decaylab.lab.transfer.axes import Setting
from decaylab.lab.transfer.laws import fit_law

from .grids import DECAYS, LRS, grid, ridge_with_slope

ACCURACY = grid(lambda *_: 0.9).scale


def verdict_of(grid_, method):
    fit = decay_ridge(grid_)
    return decoupling_verdict(method, fit.slope, *slope_interval(grid_)[:2], len(fit.log_lrs), "bootstrap").verdict


def test_decoupling():
    flat, steep = grid(ridge_with_slope(0.0)), grid(ridge_with_slope(-1.0))
    wandering = grid(ridge_with_slope(0.0, jitter=1.0), seeds=(0, 1, 2, 3))
    assert verdict_of(flat, "adamw") == HOLDS and verdict_of(steep, "adamw") == FAILS
    assert verdict_of(steep, "adamw-torch") == HOLDS and verdict_of(flat, "adaml2") == FAILS
    assert verdict_of(wandering, "adamw") == INCONCLUSIVE and verdict_of(wandering, "adaml2") == INCONCLUSIVE
    narrow = grid(ridge_with_slope(0.0, height=lambda lr: 0.9 if lr >= 1e-2 else 0.8))
    assert verdict_of(narrow, "adamw") == INCONCLUSIVE  # two good columns: no slope


def two_cells(difference, seed_noise):
    a = grid(lambda lr, d, s: 0.9 + difference, noise=seed_noise, seeds=(0, 1, 2, 3)).cell(1e-3, 1e-3)
    b = grid(lambda lr, d, s: 0.9, seeds=(0, 1, 2, 3)).cell(1e-3, 1e-3)
    return a, b, grid(lambda *_: 0.9)


def test_batchnorm_comparisons():
    assert better("a beats b", *two_cells(0.03, 0.001)).verdict == HOLDS
    assert better("a beats b", *two_cells(-0.03, 0.001)).verdict == FAILS
    assert better("a beats b", *two_cells(0.001, 0.02)).verdict == INCONCLUSIVE
    assert on_par("a ~ b", *two_cells(0.001, 0.001)).verdict == HOLDS
    assert on_par("a ~ b", *two_cells(0.05, 0.001)).verdict == FAILS
    assert on_par("a ~ b", *two_cells(0.008, 0.001)).verdict == INCONCLUSIVE  # between one and two margins


def test_a_comparison_of_best_cells_at_the_edge_of_their_grid_is_inconclusive():
    peaked = grid(lambda lr, d, s: 0.9 - 0.01 * (math.log10(lr) + 2.5) ** 2 - 0.01 * (math.log10(d + 1e-9) + 3) ** 2)
    at_largest_lr = grid(lambda lr, d, s: 0.9 + lr - 0.01 * (math.log10(d + 1e-9) + 3) ** 2)
    at_largest_decay = grid(lambda lr, d, s: 0.9 + d - 0.01 * (math.log10(lr) + 2.5) ** 2)
    inside, by_lr, by_decay = peaked.best(), at_largest_lr.best(), at_largest_decay.best()
    assert peaked.edges_of(inside) == [] and at_an_edge("a beats b", (inside, peaked)) is None
    assert at_largest_lr.edges_of(by_lr) == ["α = 0.03"] and at_largest_decay.edges_of(by_decay) == ["λ = 1"]
    edge = at_an_edge("a beats b", (inside, peaked), (by_lr, at_largest_lr))
    assert edge.verdict == INCONCLUSIVE and "α = 0.03" in edge.statistic
    no_decay = peaked.best(peaked.cell(0.0, lr) for lr in peaked.lrs)  # λ = 0 bounds the axis: no edge
    assert peaked.edges_of(no_decay) == []


def test_late_improvement():
    assert late_verdict([0.0] * 5 + [0.0, 0.005, 0.01, 0.015, 0.02], ACCURACY, 0.9).verdict == HOLDS
    assert late_verdict([0.03] * 5 + [0.03, 0.02, 0.01, 0.0, 0.0], ACCURACY, 0.9).verdict == FAILS
    assert late_verdict([0.01] * 10, ACCURACY, 0.9).verdict == INCONCLUSIVE


def test_proximal_step():
    decays = [1e-4, 1e-3, 1e-2, 1e-1]
    assert proximal_verdict(decays, [0.001, 0.004, 0.02, 0.1]).verdict == HOLDS
    assert proximal_verdict(decays, [0.2, 0.2, 0.3, 0.4]).verdict == FAILS
    assert proximal_verdict(decays, [0.02, 0.03, 0.04, 0.05]).verdict == INCONCLUSIVE
    assert proximal_verdict(decays[:2], [0.0, 0.1]).verdict == INCONCLUSIVE


def test_scale_freeness():
    assert shift_verdict("adaml2", 100, 1.9, 2).verdict == HOLDS
    assert shift_verdict("adamw", 100, 0.1, 0).verdict == HOLDS
    assert shift_verdict("adamw", 100, 2.0, 0).verdict == FAILS
    assert shift_verdict("adamw", 100, 0.8, 0).verdict == INCONCLUSIVE
    assert shift_verdict("adamw", 100, math.nan, 0).verdict == INCONCLUSIVE


def test_effective_learning_rate():
    predicted = equilibrium_rotation(1e-3, 0.9)
    assert predicted == pytest.approx(math.sqrt(2e-3 * 0.1 / 1.9))
    assert equilibrium_verdict([predicted, 1.2 * predicted], 1e-3, 10_000, 0.9).verdict == HOLDS
    assert equilibrium_verdict([5 * predicted], 1e-3, 10_000, 0.9).verdict == FAILS
    assert equilibrium_verdict([2.5 * predicted], 1e-3, 10_000, 0.9).verdict == INCONCLUSIVE
    assert equilibrium_verdict([predicted], 1e-3, 100, 0.9).verdict == INCONCLUSIVE  # too short
    assert growth_verdict(1.5, 0.4).verdict == HOLDS
    assert growth_verdict(0.9, 0.4).verdict == FAILS
    assert growth_verdict(1.02, 0.9).verdict == INCONCLUSIVE
    assert uneven_verdict(3.0, 1.5).verdict == HOLDS
    assert uneven_verdict(1.2, 1.5).verdict == FAILS
    assert uneven_verdict(1.7, 1.5).verdict == INCONCLUSIVE


def timescale_law(slope, jitter=0.0, seeds=(0, 1, 2, 3)):
    """λ* measured at N = 250, 500 and 1000 with ``log λ* = −2 + slope·log10(N/1000)``, each seed's own slope
    off by ``jitter·(seed − 1.5)``: the law along N, fitted seed by seed."""
    base = Setting(N=1000, epochs=30, batch=100, lr=1e-2, width=None)
    estimates = {}
    for n in (250, 500, 1000):
        per_seed = {s: -2 + (slope + jitter * (s - 1.5)) * math.log10(n / 1000) for s in seeds}
        estimates[base.moved("N", n)] = Estimate(
            sum(per_seed.values()) / len(seeds), math.nan, math.nan, per_seed, "interior", -2
        )
    return fit_law(base, ["N"], estimates, seeds)


@pytest.mark.parametrize(
    ("slope", "jitter", "expected", "verdict"),
    [(-1.0, 0.0, -1.0, HOLDS), (0.0, 0.0, -1.0, FAILS), (-1.0, 2.0, -1.0, INCONCLUSIVE), (0.0, 0.0, 0.0, HOLDS)],
)
def test_timescale_in_epochs(slope, jitter, expected, verdict):
    measured = timescale_law(slope, jitter).exponent("N")
    assert slope_near_verdict("claim", expected, measured.centre, measured.low, measured.high, 3).verdict == verdict
    assert (
        slope_near_verdict("claim", expected, measured.centre, measured.low, measured.high, 2).verdict == INCONCLUSIVE
    )


def test_ridge_regression_rules():
    """The torch form's rule (α·λ constant: a slope near −1) on constructed ridges."""

    def torch_form(grid_):
        fit = decay_ridge(grid_)
        return slope_near_verdict("α·λ const", -1.0, fit.slope, *slope_interval(grid_)[:2], len(fit.log_lrs)).verdict

    assert torch_form(grid(ridge_with_slope(-1.0))) == HOLDS
    assert torch_form(grid(ridge_with_slope(0.0))) == FAILS
    assert torch_form(grid(ridge_with_slope(-1.0, jitter=2.0), seeds=(0, 1, 2, 3))) == INCONCLUSIVE


def test_adamc_drift():
    assert drift_verdict(math.log(1.4), math.log(1.05)).verdict == HOLDS
    assert drift_verdict(math.log(1.1), math.log(1.2)).verdict == FAILS
    assert drift_verdict(math.log(1.3), math.log(1.2)).verdict == INCONCLUSIVE


def test_language_model_rules_on_a_loss_metric():
    """charlm's comparison is on bits per character: lower is better, the noise floor relative."""
    lower = grid(lambda lr, d, s: 2.0, metric="bits per character").cell(0.0, 1e-3)
    higher = grid(lambda lr, d, s: 2.2, metric="bits per character").cell(0.0, 1e-3)
    scale_grid = grid(lambda *_: 2.0, metric="bits per character")
    assert better("a beats b", lower, higher, scale_grid).verdict == HOLDS
    assert better("a beats b", higher, lower, scale_grid).verdict == FAILS
    assert better("a beats b", lower, lower, scale_grid).verdict == INCONCLUSIVE


def test_the_language_claim_compares_the_chosen_cells_on_fresh_seeds_and_refuses_an_edge():
    """Each method's grid (seed 0) chooses its cell; the cells' fresh seeds decide; an edge decides nothing."""
    from decaylab.claims.language import GRIDS, LanguageModel, Measured

    def bits(method, best_lr, best_decay, level):
        lrs, decays = GRIDS[method]

        def at(lr, d, s):
            return level + 0.1 * (math.log10(lr / best_lr) ** 2 + math.log10(d / best_decay) ** 2)

        return lambda seeds: grid(at, method, seeds, 0.001, list(lrs), list(decays), "bits per character")

    def judged(adamw_level, adaml2_lr):
        adamw = bits("adamw", 6e-3, 1e-3, adamw_level)
        adaml2 = bits("adaml2", adaml2_lr, 1e-4, 2.1)
        selection = {"adamw": adamw((0,)), "adaml2": adaml2((0,))}
        compared = {"adamw": adamw((1, 2, 3)), "adaml2": adaml2((1, 2, 3))}
        return LanguageModel().judge(Measured(selection, compared))[0][0]

    assert judged(2.0, 1e-2).verdict == HOLDS
    assert judged(2.2, 1e-2).verdict == FAILS
    edge = judged(2.0, 3e-2)
    assert edge.verdict == INCONCLUSIVE and "adaml2 at α = 0.03" in edge.statistic


def test_every_claim_has_a_name_title_source_and_method():
    for name, claim in registry().items():
        assert claim.name == name and claim.title and claim.source and len(claim.procedure) > 40


def test_no_interval_called_95_percent_and_no_verdict_comes_from_fewer_than_three_seeds():
    two_seeds = grid(ridge_with_slope(0.0), seeds=(0, 1))
    low, high, how = slope_interval(two_seeds)
    assert math.isnan(low) and math.isnan(high) and "no interval" in how
    fit = decay_ridge(two_seeds)
    assert decoupling_verdict("adamw", fit.slope, 0.0, 0.0, len(fit.log_lrs), "", seeds=2).verdict == INCONCLUSIVE
    assert timescale_law(-1.0, seeds=(0, 1)).exponent("N").has_interval is False
    pair = (
        grid(lambda lr, d, s: 0.95, seeds=(0, 1)).cell(1e-3, 1e-3),
        grid(lambda lr, d, s: 0.5, seeds=(0, 1)).cell(1e-3, 1e-3),
    )
    assert better("a beats b", *pair, two_seeds).verdict == INCONCLUSIVE  # by 45 points, but on two seeds
    assert on_par("a ~ b", pair[0], pair[0], two_seeds).verdict == INCONCLUSIVE


def test_a_run_of_fewer_than_three_seeds_reports_what_each_rule_would_say_and_decides_nothing():
    from decaylab.claims.base import Verdict
    from decaylab.claims.runner import undecided

    decided = undecided(Verdict("claim", "s = 0.0", HOLDS, "holds if small"), seeds=1)
    assert decided.verdict == INCONCLUSIVE and "would read 'holds'" in decided.rule and "needs 3" in decided.rule


def test_decoupling_under_muon_and_lion_reads_lambda_star_from_the_grid_and_the_torch_form_from_the_same_runs():
    from decaylab.claims.base import Lab, column_estimate
    from decaylab.claims.todays_decoupling import in_torch_form

    def judged(slope, lrs=LRS, decays=DECAYS):
        constructed = grid(ridge_with_slope(slope), method="muonw", noise=5e-4, lrs=lrs, decays=decays)
        found = {lr: column_estimate(constructed, lr, 3) for lr in constructed.lrs}
        paper = Lab._coupling("muonw", constructed, found, 3)
        return coupling_verdict(paper).verdict, coupling_verdict(in_torch_form(paper)).verdict, paper.slope

    verdicts_flat, verdicts_rising = judged(0.0), judged(1.0)
    assert verdicts_flat[:2] == (HOLDS, HOLDS) and abs(verdicts_flat[2].centre) < 0.05
    assert verdicts_rising[:2] == (FAILS, FAILS)  # s = +1: the paper form rises, the torch form stays flat
    # the claims' own grid: one decade of α, λ 0.48 and 0.52 decades a step; λ* drifts by 0.4 decades
    drifting = judged(0.4, [3e-3, 1e-2, 3e-2], [0.0, 1e-3, 3e-3, 1e-2, 3e-2])
    assert drifting[0] != HOLDS and 0.3 < drifting[2].centre < 0.5  # each seed's parabola, not a grid point


def test_too_few_columns_with_an_interior_lambda_star_say_how_many_runs_would_bring_them_and_read_each_column():
    """λ* rising as α over one decade of α on a half-decade λ grid: only the middle column holds it inside the grid,
    so the slope is undecided, and the verdict names the runs that would give it its four columns."""
    from decaylab.claims.base import Lab, column_estimate
    from decaylab.claims.todays_decoupling import Measured, TodaysDecoupling

    decays = [0.0, 1e-3, 3e-3, 1e-2, 3e-2]
    constructed = grid(ridge_with_slope(1.0), method="muonw", noise=5e-4, lrs=[1e-3, 1e-2, 1e-1], decays=decays)
    found = {lr: column_estimate(constructed, lr, 3) for lr in constructed.lrs}
    (verdict,), details = TodaysDecoupling().judge(Measured([Lab._coupling("muonw", constructed, found, 3)]))
    interior = sum(e is not None and e.interior for e in found.values())
    assert verdict.verdict == INCONCLUSIVE and interior < 4
    assert f"at least {(4 - interior) * 5 * 3} more runs" in verdict.statistic
    readings = [line for line in details if line.startswith("| 0.")]
    assert len(readings) == 3 and "≤ " in readings[0] and "≥ " in readings[-1]  # below and above the λ grid


def test_three_interior_columns_also_say_how_many_seeds_would_decide_their_slope():
    from dataclasses import replace

    from decaylab.claims.base import Coupling
    from decaylab.claims.statistics import seeds_to_decide
    from decaylab.claims.todays_decoupling import runs_to_decide
    from decaylab.lab.optimum import Estimate
    from decaylab.lab.statistics import Value

    constructed = grid(ridge_with_slope(1.0), method="muonw", noise=5e-4, lrs=[1e-2, 2e-2, 3e-2])
    columns = {lr: Estimate(0.0, -0.1, 0.1, {}, "interior", 0.0) for lr in constructed.lrs}
    measured = Coupling("muonw", constructed, columns, Value(0.95, -0.61, 2.52), 3)
    needed = seeds_to_decide(0.95, -0.61, 2.52, 3, "decoupled")
    assert needed is not None and f"about {needed} seeds" in runs_to_decide(measured)
    assert "seeds would" not in runs_to_decide(replace(measured, slope=Value(0.95)))  # no interval: no estimate


def test_muons_best_cell_is_judged_in_lattice_steps_from_adamws_and_at_adamws_cell_on_fresh_seeds():
    from decaylab.claims.muon_rms import Measured, MuonRms

    def peaked(method, lr, decay, level=2.0):
        def bits(at_lr, d, s):
            return level + 0.05 * math.log10(at_lr / lr) ** 2 + 0.05 * math.log10(max(d, 1e-4) / decay) ** 2

        return grid(bits, method, (0, 1, 2), 0.001, [1e-3, 3e-3, 1e-2, 3e-2], [0.0, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
                    "bits per character")  # fmt: skip

    def judged(muon_lr, muon_decay):
        grids = {"adamw": peaked("adamw", 3e-3, 1e-3), "muonw": peaked("muonw", muon_lr, muon_decay, 1.9)}
        return [v.verdict for v in MuonRms().judge(Measured(grids, grids["muonw"].cell(1e-3, 3e-3)))[0]]

    assert judged(3e-3, 3e-3)[0] == HOLDS  # one half-decade step along λ
    assert judged(1e-2, 1e-2)[0] == INCONCLUSIVE  # two steps along λ
    assert judged(1e-2, 3e-3)[0] == HOLDS  # one step along each axis
    transfer, reused = judged(3e-3, 1e-3)
    assert transfer == HOLDS and reused == HOLDS  # the same cell
    assert judged(3e-2, 1e-3) == [INCONCLUSIVE, INCONCLUSIVE]  # Muon's best at the edge of its grid decides nothing


def test_cautious_decay_is_compared_cell_to_cell_with_its_plain_rule():
    from decaylab.claims.cautious import CautiousDecay, Measured

    def level(method, value):
        return grid(lambda lr, d, s: value - 0.01 * (math.log10(lr) + 2.5) ** 2 - 0.01 * (math.log10(d + 1e-9) + 3)
                    ** 2, method, (0, 1, 2, 3), 0.001)  # fmt: skip

    def judged(cautious_gain):
        grids = {"adamw": level("adamw", 0.8), "adamw-cautious": level("adamw-cautious", 0.8 + cautious_gain)}
        grids |= {"muonw": level("muonw", 0.8), "muonw-cautious": level("muonw-cautious", 0.8)}
        return [verdict.verdict for verdict in CautiousDecay().judge(Measured(grids))[0]]

    assert judged(0.03) == [HOLDS, INCONCLUSIVE] and judged(-0.03)[0] == FAILS


def test_l2_through_muon_moves_its_best_lambda_with_the_loss_scale_as_the_scale_claim_says():
    from decaylab.claims.muon_scale import CLAIM
    from decaylab.claims.scale import Curve
    from decaylab.claims.scale import Measured as ScaleMeasured

    def curves(shift_per_decade):
        return {c: Curve([1e-3], [0.9], -3 + shift_per_decade * math.log10(c)) for c in (1.0, 10.0, 100.0)}

    moved = ScaleMeasured(1e-2, {"muonw": curves(0.0), "muonl2": curves(1.0)}, "accuracy")
    assert [v.verdict for v in CLAIM.judge(moved)[0]] == [HOLDS] * 4
    stuck = ScaleMeasured(1e-2, {"muonw": curves(0.0), "muonl2": curves(0.0)}, "accuracy")
    assert [v.verdict for v in CLAIM.judge(stuck)[0]] == [HOLDS, HOLDS, INCONCLUSIVE, FAILS]


def test_late_says_when_both_best_cells_are_plain_adam_the_same_run():
    """With λ = 0 best for both (a smoke run), AdamW and AdamL2 are plain Adam at one α: it plotted a flat
    +0.00 gap of a run against itself without saying so."""

    def best_at_zero(lr, decay, seed=0):
        return 0.9 if decay == 0 and lr == 1e-3 else 0.5

    class Lab:
        def grid(self, role, method):
            return []

        def grids(self, runs):
            return {method: grid(best_at_zero, method) for method in ("adamw", "adaml2")}

    measured = LATE.measure(Lab())
    assert isinstance(measured, Unmeasured) and "the same run" in measured.reason, measured


def test_the_ridge_figure_says_one_seed_where_it_has_no_intervals():
    """Its title said "95% intervals over seeds" over a one-seed smoke run."""
    from decaylab.analysis.figures import Ridge, intervals_of

    one_seed = Ridge("adamw", [-3.0, -2.5], [-4.0, -4.0], [(math.nan, math.nan)] * 2, 0.0)
    seeds = Ridge("adaml2", [-3.0], [-4.0], [(0.2, 0.3)], 0.0)
    assert intervals_of([one_seed]) == "one seed: no intervals"
    assert intervals_of([one_seed, seeds]) == "95% intervals over seeds"


def test_the_learning_curves_labels_overlap_no_other_panel(monkeypatch, tmp_path):
    """curves.png's y-label ran over the ticks beside it."""
    import matplotlib.pyplot as plt

    from decaylab.analysis import figures

    kept = []
    monkeypatch.setattr(figures.plt, "close", kept.append)
    curves = {f"m-{lr}-{d}-{s}": [(e, 2.0 / e, 1.0 / e, 0.5 + e / 100) for e in range(1, 31)]
              for lr in LRS for d in DECAYS for s in (0, 1, 2)}  # fmt: skip
    grids = [grid(lambda lr, d, s: 0.9 if d == 0 else 0.5)]
    figures.draw_learning_curves(grids, lambda key: curves[key], tmp_path / "curves.png", "a title")
    (figure,) = kept
    renderer = figure.canvas.get_renderer()
    metric_axis, loss_axis = figure.axes
    for label, other in ((loss_axis.yaxis.label, metric_axis), (metric_axis.yaxis.label, loss_axis)):
        assert not label.get_window_extent(renderer).overlaps(other.get_tightbbox(renderer))
    for tick in loss_axis.get_yticklabels():
        assert not loss_axis.yaxis.label.get_window_extent(renderer).overlaps(tick.get_window_extent(renderer))
    plt.close(figure)


def test_the_equilibrium_bound_claims_hold_fail_or_say_that_nothing_was_tested():
    from decaylab.claims.bounds import bound_verdict, unbounded_verdict

    assert bound_verdict("b", [0.97, 0.99, 1.01]).verdict == HOLDS  # within 2%, and binding
    assert bound_verdict("b", [0.6, 1.3, 0.9]).verdict == FAILS  # a run went past it
    assert bound_verdict("b", [0.1, 0.2, 0.15]).verdict == INCONCLUSIVE  # far inside: nothing tested
    assert bound_verdict("b", [0.9, 1.0]).verdict == INCONCLUSIVE  # two runs
    assert unbounded_verdict("l2", [0.5, 1.6, 0.9]).verdict == HOLDS
    assert unbounded_verdict("l2", [0.5, 0.6, 0.9]).verdict == INCONCLUSIVE


def test_adamws_square_root_law_holds_fails_or_needs_three_seeds():
    from decaylab.claims.adamw_norm import sqrt_verdict

    assert sqrt_verdict([0.49, 0.51, 0.50, 0.52]).verdict == HOLDS
    assert sqrt_verdict([0.95, 1.02, 0.99]).verdict == FAILS  # ∝ η/λ: a slope of 1
    assert sqrt_verdict([0.2, 0.8, 0.5]).verdict == INCONCLUSIVE  # too spread to tell
    assert sqrt_verdict([0.5, 0.5]).verdict == INCONCLUSIVE


@pytest.mark.parametrize(
    "method,probe", [("muonw-torch", "spectral-norm-per-scale"), ("lionw-torch", "largest-weight")]
)
def test_the_norm_probes_see_the_decoupled_bound_kept_step_by_step(method, probe):
    """The probe on a unit trained at a large α·λ: its largest norm settles at or under step_norm/λ."""
    import torch
    from torch import nn

    from decaylab.claims.bounds import NEWTON_SCHULZ_SUP, TOLERANCE
    from decaylab.lab.runs import RunConfig
    from decaylab.lab.task.contract import Task
    from decaylab.lab.training.loop import train_unit

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, 8, generator=g), torch.randint(0, 3, (400,), generator=g)
    task = Task("probe", (x, y), (x, y), lambda: nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)),
                epochs=6, batch_size=20)  # fmt: skip
    decays, lr = (2.0, 5.0), (3e-2 if method.startswith("muon") else 3e-3)
    runs = [RunConfig("probe", method, lr, d, 0, 6, batch_size=20, probes=(probe,)) for d in decays]
    step_norm = NEWTON_SCHULZ_SUP if method.startswith("muon") else 1.0
    for run, result in zip(runs, train_unit(task, runs), strict=True):
        values = [value for epoch, name, value in result.measurements if name == probe]
        assert len(values) == 6 and all(v > 0 for v in values)
        ratio = values[-1] * run.weight_decay / step_norm
        assert 0.3 < ratio <= 1 + TOLERANCE, (run.weight_decay, values)
