"""The advice ``decaylab transfer`` gives: right on a task whose best λ is known, at the default settings; none
where a stability edge, a flat curve or its own held-out check says there is none; and a prediction interval
that carries the law's uncertainty."""

import math
import random
import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch

import decaylab
from decaylab.analysis.transfer import groups_sentence, markdown, rows, summary, write_rows
from decaylab.analysis.transfer_figure import draw_target, law_line
from decaylab.lab.execution import LocalExecutor
from decaylab.lab.execution.base import Job, portable
from decaylab.lab.optimum import FLAT_CURVE, INTERIOR, STABILITY_EDGE, Estimate, estimate
from decaylab.lab.statistics import Value
from decaylab.lab.store import ResultStore
from decaylab.lab.task.loading import load_task
from decaylab.lab.transfer.advice import advise, paste_lines
from decaylab.lab.transfer.axes import Axes, Pool, Setting, setting_task
from decaylab.lab.transfer.laws import fit_law
from decaylab.lab.transfer.measure import BaseRate, Check, SettingSearch, Transfer, run_transfer
from tests.lab.minibatch_ridge import bayes_lambda

HERE = Path(__file__).parent
RIDGE = f"{HERE / 'minibatch_ridge.py'}:make_task"
SIZES = (400, 800, 1600)


def test_a_task_file_at_the_default_settings_finds_its_alpha_and_the_bayes_law_and_passes_its_check(tmp_path):
    """The issue's task: minibatch SGD, a noisy validation split, no --lr, two workers. The larger α of SGD's
    grid blow up on it; the scan finds a stable one, and the law is the Bayes value's."""
    result = run_transfer(RIDGE, "sgdl2", tmp_path, LocalExecutor(2), axes=["N"], values={"N": SIZES}, progress=False)
    assert not result.base_lr.given and result.base_lr.scan[result.base_lr.lr][1]
    assert not result.base_lr.scan[1.0][1], "α = 1 should be found unstable on this task"
    exponent = result.law.exponent("N")
    assert exponent.has_interval and exponent.contains(-1.0), exponent
    for setting, found in result.estimates.items():
        assert found.kind == INTERIOR, setting
        assert abs(found.log_lambda - math.log10(bayes_lambda(setting.N))) <= 0.2, setting
    check = result.checks["N"]
    assert abs(check.predicted.centre - check.measured.log_lambda) <= 0.2
    assert advise(result).passed and "passed" in summary(result)


def test_a_deliberately_unstable_alpha_reports_a_stability_edge_and_gives_no_lambda(tmp_path):
    """At α = 0.3 minibatch SGD blows up on this task unless a decoupled decay of 0.3 per step or more holds the
    weights in: the best λ is the least decay that keeps it stable. (An ℓ2 penalty in the gradient adds
    curvature and cannot stabilize a quadratic, so the decoupled rule shows the edge.)"""
    options = {"axes": ["N"], "values": {"N": (400, 800, 1600)}, "lr": 0.3, "seeds": 3, "to": {"N": 3200}}
    result = run_transfer(RIDGE, "sgdw", tmp_path, LocalExecutor(2), progress=False, **options)
    kinds = {setting: found.kind for setting, found in result.estimates.items()}
    assert STABILITY_EDGE in kinds.values(), kinds
    assert result.law is None or all(kinds[s] == INTERIOR for s in result.law.settings)
    advice = advise(result)
    assert not advice.passed and math.isnan(advice.predicted.centre)
    text = summary(result)
    assert "stability edge" in text and "lower --lr" in text
    assert "λ to use at" not in text and "make_optimizer" not in text
    report = markdown(result)
    assert "None at N=3200" in report and "```python" not in report


def scores_of(curve, seeds=(0, 1, 2), noise=0.0, points=(-6, -5, -4, -3, -2, -1, 0)):
    draw = random.Random(1)
    return {x: {seed: curve(x) + draw.gauss(0, noise) for seed in seeds} for x in points}


def test_a_curve_whose_best_beats_no_decay_by_less_than_the_seeds_noise_is_flat():
    flat = scores_of(lambda x: 0.80 - 0.3 * max(0.0, x + 2) ** 2, noise=0.004)  # equal below 1e-2, noise 0.4 points
    found = estimate(flat, (0, 1, 2))
    assert found.kind == FLAT_CURVE and not found.has_interval
    sharp = scores_of(lambda x: 0.80 - 0.01 * (x + 3.5) ** 2, noise=0.004)  # 2.3 points above the smallest λ
    assert estimate(sharp, (0, 1, 2)).kind == INTERIOR


def test_a_best_lambda_whose_smaller_neighbours_were_unstable_lies_at_a_stability_edge():
    scores = scores_of(lambda x: 0.9 - 0.01 * (x + 3) ** 2)  # its optimum lies where α is unstable
    for x in (-6, -5, -4, -3):
        scores[x] = {seed: math.nan for seed in (0, 1, 2)}  # unstable or diverged
    found = estimate(scores, (0, 1, 2))
    assert found.kind == STABILITY_EDGE and found.best == -2 and not found.has_interval


BASE = Setting(N=1000, epochs=10, batch=100, lr=1e-2, width=None)
VALUES = {"N": (250, 500, 1000, 2000), "epochs": (5, 10, 20, 40)}


def constructed(slopes, noise, case, seeds=5, values=VALUES, spread=0.0):
    """Estimates of λ* at every setting of ``values``: each seed's λ* is the law (its exponents moved by
    ``spread`` per seed) plus its own noise."""
    draw = random.Random(case)
    settings = [BASE, *(BASE.moved(axis, v) for axis, vs in values.items() for v in vs if v != BASE.value(axis))]
    moved = {seed: {axis: b + draw.gauss(0, spread) for axis, b in slopes.items()} for seed in range(seeds)}
    estimates = {}
    for setting in settings:
        per_seed = {}
        for seed in range(seeds):
            law = sum(b * math.log10(setting.value(a) / BASE.value(a)) for a, b in moved[seed].items())
            per_seed[seed] = -2.0 + law + draw.gauss(0, noise)
        estimates[setting] = Estimate(statistics.fmean(per_seed.values()), math.nan, math.nan, per_seed, INTERIOR, 0)
    return estimates


def test_the_law_is_one_surface_continuous_at_the_base_and_the_figure_draws_it():
    estimates = constructed({"N": -1.0, "epochs": -0.5}, noise=0.1, case=3)
    law = fit_law(BASE, list(VALUES), estimates, range(5))
    at_base, near = law.predict(BASE).centre, law.predict(replace(BASE, N=1000.001)).centre
    assert abs(at_base - near) < 1e-5  # no jump at the base: N=2000 and N=2001 agree too
    assert abs(law.predict(BASE.moved("N", 2000)).centre - law.predict(BASE.moved("N", 2001)).centre) < 1e-3
    result = transfer_of(estimates, law)
    xs, ys = law_line(result, "N")
    assert ys == [law.predict(replace(BASE, N=x)).centre for x in xs]


def test_a_target_four_times_past_the_data_gets_an_interval_as_wide_as_the_laws_spread_there():
    estimates = constructed({"N": -1.0, "epochs": 0.0}, noise=0.05, case=5, spread=0.3)
    law = fit_law(BASE, list(VALUES), estimates, range(5))
    far, inside = BASE.moved("N", 8000), BASE.moved("N", 500)
    per_seed = law.predicted_per_seed(far).values()
    predicted = law.predict(far)
    assert predicted.low <= min(per_seed) and predicted.high >= max(per_seed)
    assert predicted.half_width > law.predict(inside).half_width
    assert law.reach(far) == pytest.approx({"N": math.log10(4)})
    assert law.reach(inside) == {}


def test_the_95_percent_prediction_interval_covers_a_held_out_measurement_at_least_95_percent_of_the_time():
    """Simulated transfers with a known power law: the law fitted without the held-out N predicts it, and a
    fresh measurement there (the mean over its seeds) falls inside the interval."""
    covered = []
    for case in range(400):
        estimates = constructed({"N": -1.0, "epochs": -0.5}, noise=0.15, case=case, seeds=3)
        held_out = BASE.moved("N", 2000)
        truth = estimates.pop(held_out)
        law = fit_law(BASE, list(VALUES), estimates, range(3))
        covered.append(law.predict(held_out).contains(truth.log_lambda))
    assert 0.95 <= sum(covered) / len(covered) <= 1.0


def transfer_of(estimates, law, checks=None, quick=False, target=None):
    """A Transfer made of constructed estimates, for the verdict and the report."""
    axes = Axes(BASE, dict(VALUES))
    return Transfer(
        "constructed", "adamw", "accuracy", True, axes, tuple(range(5)),
        {s: SettingSearch(s, -2.0) for s in estimates}, estimates, law, law, checks or {}, target, frozenset(),
        BaseRate(1e-2, True), quick,
    )  # fmt: skip


def test_a_law_that_fails_its_held_out_check_prints_no_lambda_and_says_why():
    estimates = constructed({"N": -1.0, "epochs": -0.5}, noise=0.05, case=7)
    law = fit_law(BASE, list(VALUES), estimates, range(5))
    held_out = BASE.moved("N", 2000)
    measured = estimates[held_out]
    missed = Check(held_out, law.predict(held_out).plus(0.8), measured, Value(0.2, 0.15, 0.25), 0.005)
    target = Check(BASE.moved("N", 8000), law.predict(BASE.moved("N", 8000)), None, Value(math.nan), math.nan)
    failed = transfer_of(estimates, law, {"N": missed}, target=target)
    text, report = summary(failed), markdown(failed)
    assert "failed" in text and "predicted − measured +0.7" in text and "--verify" in text
    assert "λ to use at" not in text and "make_optimizer" not in text and "```python" not in report
    assert report.index("## Verdict") < report.index("## The law")
    kept = Check(held_out, law.predict(held_out), measured, Value(0.001, -0.002, 0.004), 0.005)
    passed = transfer_of(estimates, law, {"N": kept}, target=target)
    assert "λ to use at N=8000" in summary(passed) and "torch.optim.AdamW" in summary(passed)
    assert "λ to use at" not in summary(replace(passed, quick=True))
    assert summary(replace(passed, quick=True)).startswith("A smoke run")
    for result, drawn in ((failed, "target (no advice: see the report)"), (passed, "target, predicted")):
        figure, panel = plt.subplots()  # transfer.png drew no target where the advice failed
        draw_target(panel, result, "N")
        assert drawn in panel.get_legend_handles_labels()[1], drawn
        plt.close(figure)


def test_power_lines_structure_is_tested_where_it_predicts_equal_exponents_along_n_and_epochs():
    unequal = constructed({"N": -1.0, "epochs": -0.5}, noise=0.05, case=9)
    report = markdown(transfer_of(unequal, fit_law(BASE, list(VALUES), unequal, range(5))))
    power_lines = next(line for line in report.splitlines() if line.startswith("| Power Lines"))
    nanochat = next(line for line in report.splitlines() if line.startswith("| nanochat"))
    assert "b_N − b_epochs = +0 **rejected**" in power_lines and power_lines.endswith("**rejected** (N with epochs) |")
    assert "**rejected**" in nanochat  # λ ∝ 1/D: −1 along epochs too
    equal = constructed({"N": -1.0, "epochs": -1.0}, noise=0.05, case=9)
    report = markdown(transfer_of(equal, fit_law(BASE, list(VALUES), equal, range(5))))
    nanochat = next(line for line in report.splitlines() if line.startswith("| nanochat"))
    assert nanochat.endswith("| consistent |")


def test_a_task_files_variants_reach_a_process_that_never_imported_the_file():
    """Transfer and claims send task variants as objects; a task file's module-level class must travel with
    them to worker processes and Ray, which cannot import the file's module."""
    task = load_task(RIDGE)
    variant = setting_task(task, Pool(task.train, "own"), Setting(400, 20, 100, 0.01, None), seed=1)
    payload = portable(Job(variant)).task
    program = (
        "import sys, cloudpickle; task = cloudpickle.loads(sys.stdin.buffer.read()); "
        "print(type(task.make_model()).__name__, len(task.train[0]))"
    )
    done = subprocess.run([sys.executable, "-c", program], input=payload, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert done.stdout.decode().split() == ["Linear", "400"]


def test_every_setting_searched_has_a_csv_row_with_a_header_even_where_every_run_diverged(tmp_path):
    """A transfer at an α where every run diverged wrote an empty transfer.csv, and a setting without an estimate
    vanished from the CSV while the report listed it."""
    estimates = constructed({"N": -1.0, "epochs": -0.5}, noise=0.05, case=7)
    law = fit_law(BASE, list(VALUES), estimates, range(5))
    lost = BASE.moved("N", 2000)
    result = transfer_of({s: e for s, e in estimates.items() if s != lost}, law)
    result = replace(result, searches={**result.searches, lost: SettingSearch(lost, -2.0)})
    table = rows(result)
    assert len(table) == len(result.searches) and table[-1]["kind"] == "every run diverged"
    assert table[-1]["log10_lambda"] is None and table[-1]["N"] == 2000
    diverged = replace(result, estimates={}, searches={lost: SettingSearch(lost, -2.0)})
    write_rows(diverged, tmp_path / "transfer.csv")
    header, row = (tmp_path / "transfer.csv").read_text().splitlines()
    assert header.startswith("task,method,N,epochs") and "every run diverged" in row


@pytest.mark.parametrize("method", ["adamw", "adamw-torch", "adaml2", "muonw", "muonw-torch"])
def test_the_paste_lines_train_the_same_update_in_decaylab_and_in_torch(method):
    """The advice's two lines, run as printed: decaylab's and torch's optimizer move a matrix alike. Muon's
    lines spell its adjust_lr_fn, and Lion's second line is timm's (torch has no Lion)."""
    lines = paste_lines(method, 3e-2, 0.05 if method.endswith("torch") or method == "adaml2" else 1e-3)
    weights = []
    for line in lines:
        weight = torch.nn.Parameter(torch.randn(6, 4, generator=torch.Generator().manual_seed(0)))
        optimizer = eval(
            line.split("  #")[0], {"decaylab": decaylab, "torch": torch, "params": [weight], "matrices": [weight]}
        )
        for step in range(5):
            weight.grad = torch.randn(6, 4, generator=torch.Generator().manual_seed(step))
            optimizer.step()
        weights.append(weight.detach())
    assert len(lines) == 2 and torch.allclose(weights[0], weights[1], rtol=1e-5, atol=1e-6), lines
    assert ("adjust_lr_fn" in lines[0]) == method.startswith("muon")
    assert "timm.optim.Lion(params, lr=0.03, weight_decay=0.0333" in paste_lines("lionw", 3e-2, 1e-3)[1]


def test_a_transfers_practice_reaches_every_run_and_the_advice_spells_it(tmp_path):
    """Every run of a transfer under a practice carries it, and the report's ``params`` line is the practice's:
    a user pasting it trains what the law was measured on."""
    practice = decaylab.Practice(decayed="all", decay_schedule="linear")
    options = {"axes": ["N"], "values": {"N": (400, 800, 1600)}, "lr": 0.03, "seeds": 1}
    result = run_transfer(RIDGE, "sgdw", tmp_path, LocalExecutor(1), progress=False, practice=practice, **options)
    configs = ResultStore(tmp_path).configs()
    assert configs and all((c["decayed"], c["decay_schedule"]) == ("all", "linear") for c in configs.values())
    report = markdown(result)
    assert "param_groups(model, λ, decay_all=True)` (every parameter decayed)" in report
    assert "WeightDecaySchedule(optimizer, 'linear', total_steps)" in report
    muon = groups_sentence({"decayed": "matrices-no-embeddings", "adam_lr": 1e-3, "adam_weight_decay": 0.0}, True)
    assert "param_groups(model, λ, decay_embeddings=False, muon=True, adam_lr=0.001, adam_weight_decay=0)" in muon
    assert "ns_dtype='float32'" in groups_sentence({"ns_dtype": "float32"}, True)
