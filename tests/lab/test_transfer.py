"""``decaylab transfer`` on a problem whose best λ is known in closed form, its plan, and its resumption."""

import dataclasses
import math
import random

import pytest
import torch
from torch import nn

from decaylab import Task
from decaylab.lab.errors import UsageError
from decaylab.lab.execution import LocalExecutor
from decaylab.lab.statistics import Value
from decaylab.lab.transfer.axes import AXES, Axes, Setting, choose_axes
from decaylab.lab.transfer.laws import fit_law, in_units
from decaylab.lab.transfer.measure import run_transfer
from decaylab.lab.transfer.rules import RULES

DIMENSION, NOISE, POOL = 400, 1.0, 12_800
SIZES = (400, 800, 1600, 3200, 6400)


def bayes_ridge() -> Task:
    r"""Linear regression with a Gaussian prior on the weights, whose best λ is known.

    ``w* ~ N(0, s²·I)`` with ``s² = 1/d`` (the signal ``x·w*`` has unit variance), ``x ~ N(0, I_d)`` and
    ``y = x·w* + σ·ξ``. decaylab's SGDL2 minimizes the mean squared error plus its penalty ``λ/2·‖w‖²``:

    .. math::  \frac1n‖y − Xw‖² + \frac λ2‖w‖²,\quad \text{stationary where}\quad (XᵀX + \tfrac{nλ}{2} I)\,w = Xᵀy.

    The posterior mean of ``w*`` given the data, which minimizes the expected squared error of the
    predictions over the prior, is ``(XᵀX + (σ²/s²)·I)⁻¹Xᵀy``. So the best λ is ``nλ*/2 = σ²/s²``, that
    is ``λ* = 2σ²/(n·s²) = 2·d·σ²/n``: slope −1 in ``n``. For one draw of ``w*`` the best λ of a training
    set scatters around it by a relative ``O(1/√d)`` (Dobriban & Wager 2018): ``d = 400`` keeps that to
    a few hundredths of a decade.

    The validation inputs are ``√d·I`` with noiseless targets, so the validation loss is exactly
    ``‖w − w*‖²``, the expected test error above the noise: λ is chosen on the quantity the Bayes argument
    is about, without a validation set's own noise. Full-batch steps (the batch holds every example) with
    momentum and a cosine schedule train each run to its stationary point.
    """
    generator = torch.Generator().manual_seed(0)
    w = torch.randn(DIMENSION, 1, generator=generator) / math.sqrt(DIMENSION)
    x = torch.randn(POOL, DIMENSION, generator=generator)
    train = (x, x @ w + NOISE * torch.randn(POOL, 1, generator=generator))
    probe = math.sqrt(DIMENSION) * torch.eye(DIMENSION)
    return Task(
        "bayes-ridge",
        train,
        (probe, probe @ w),
        lambda: nn.Linear(DIMENSION, 1, bias=False),
        validation=(probe, probe @ w),
        loss=nn.functional.mse_loss,
        epochs=100,
        batch_size=POOL,
    )


def bayes_lambda(examples: int) -> float:
    return 2 * DIMENSION * NOISE**2 / examples


def test_transfer_along_n_recovers_the_bayes_ridge_law_and_predicts_the_held_out_n(tmp_path):
    options = {"values": {"N": SIZES}, "axes": ["N"], "lr": 0.1, "seeds": 3, "progress": False}
    result = run_transfer(bayes_ridge(), "sgdl2", tmp_path, LocalExecutor(1), **options)
    exponent = result.law.exponent("N")
    assert exponent.has_interval and exponent.contains(-1.0), exponent
    check, largest = result.checks["N"], SIZES[-1]
    assert check.measured.interior and check.setting.value("N") == largest
    assert abs(check.predicted.centre - check.measured.log_lambda) <= 0.15
    for setting, estimate in result.estimates.items():  # and every measured λ* is the Bayes value
        assert abs(estimate.log_lambda - math.log10(bayes_lambda(setting.N))) <= 0.15, setting
    runs = len(result.keys)  # one line, not pages of searches
    assert (
        repr(result)
        == f"Transfer(task='bayes-ridge', method='sgdl2', axes=(N), settings=5, runs={runs}, seeds=3: a law)"
    )


def test_the_axes_hold_the_base_and_refuse_what_cannot_be_measured():
    base = Setting(N=1000, epochs=10, batch=100, lr=1e-2, width=None)
    axes = Axes(base, {"N": (250, 500, 2000), "epochs": (5, 20, 40)})
    assert axes.values["N"] == (250, 500, 1000, 2000) and axes.held_out["N"] == Setting(2000, 10, 100, 1e-2, None)
    assert len(axes.settings) == 1 + 3 + 3  # the base once
    with pytest.raises(UsageError, match="held-out"):
        Axes(base, {"N": (500, 1000)})  # the base would be the largest
    with pytest.raises(UsageError, match="width"):
        Axes(base, {"width": (10, 20, 40)})  # a model that takes no width
    with pytest.raises(UsageError, match="unknown axis"):
        choose_axes("", bayes_ridge(), 0.1, False, ["depth"], {})


def constructed(slopes: dict[str, float], base: Setting, values: dict[str, tuple], noise: float, case: int):
    """Estimates of λ* along axes with known exponents: each seed's λ* is the law plus its own noise."""
    from decaylab.lab.optimum import Estimate

    draw = random.Random(case)
    settings = [base, *(base.moved(axis, v) for axis, vs in values.items() for v in vs if v != base.value(axis))]
    estimates = {}
    for setting in settings:
        truth = -2.0 + sum(b * math.log10(setting.value(a) / base.value(a)) for a, b in slopes.items())
        per_seed = {seed: truth + draw.gauss(0, noise) for seed in range(3)}
        estimates[setting] = Estimate(sum(per_seed.values()) / 3, math.nan, math.nan, per_seed, "interior", truth)
    return estimates


BASE = Setting(N=1000, epochs=10, batch=100, lr=1e-2, width=None)
VALUES = {"N": (250, 500, 1000, 2000), "epochs": (5, 10, 20, 40)}


def test_each_axis_is_its_own_line_and_a_target_adds_their_effects():
    estimates = constructed({"N": -1.0, "epochs": 0.5}, BASE, VALUES, noise=0.0, case=0)
    law = fit_law(BASE, list(VALUES), estimates, range(3))
    assert law.exponent("N").centre == pytest.approx(-1.0) and law.exponent("epochs").centre == pytest.approx(0.5)
    target = BASE.moved("N", 8000).moved("epochs", 80)
    assert law.predict(target).centre == pytest.approx(-2.0 - 1.0 * math.log10(8) + 0.5 * math.log10(8))
    assert math.isnan(law.predict(BASE.moved("batch", 200)).centre)  # an axis without a line predicts nothing


def test_an_exponents_95_percent_interval_covers_the_true_exponent_90_to_99_percent_of_the_time():
    covered = []
    for case in range(300):
        law = fit_law(BASE, list(VALUES), constructed({"N": -1.0, "epochs": 0.0}, BASE, VALUES, 0.2, case), range(3))
        covered.append(law.exponent("N").contains(-1.0))
    assert 0.90 <= sum(covered) / len(covered) <= 0.99


@pytest.mark.parametrize("name", ["mnist1d-mlp-bn", "ridge", "charlm"])
def test_every_built_in_tasks_default_axes_hold_out_a_value_above_its_base(name):
    from decaylab.lab.task.loading import load_task
    from decaylab.lab.transfer.axes import DEFAULT_AXES, default_axes

    task = load_task(name)
    for quick in (False, True):
        axes = default_axes(name, task, 1e-2, quick)
        assert quick or set(axes.values) == set(DEFAULT_AXES[name])
        for axis, held_out in axes.held_out.items():
            assert held_out.value(axis) > axes.base.value(axis)


def test_a_default_n_axis_holds_no_size_below_a_batch():
    """A quick transfer of a task of 408 examples in batches of 50 put N = 25 on its axis: trained full-batch,
    labelled batch 50. Defaults hold no such size now, and a given one is labelled with the batch it trains."""
    from decaylab.lab.transfer.axes import default_axes

    x, y = torch.randn(408, 3), torch.randint(0, 2, (408,))
    task = Task("small", (x, y), (x, y), lambda: nn.Linear(3, 2), batch_size=50)
    for quick in (False, True):
        sizes = default_axes("", task, 1e-2, quick).values["N"]
        assert sizes and min(sizes) >= 50, (quick, sizes)
    below = Setting(N=20, epochs=5, batch=50, lr=1e-2, width=None)  # given: trained full-batch, and said so
    assert str(below) == "N=20, epochs=5, batch=20, lr=0.01" and below.trained("batch") == 20


def test_every_axis_is_one_record_a_setting_field_a_flag_and_its_units():
    """An axis is one :class:`Axis` in ``axes.py`` and its :class:`Setting` field: the rest of the transfer reads
    the record (the run it fixes, the task it shapes, its flag, how its exponents convert)."""
    assert list(AXES) == [field.name for field in dataclasses.fields(Setting)]
    assert len({axis.flag for axis in AXES.values()}) == len(AXES)
    for name, axis in AXES.items():
        paper, torch_form = in_units(Value(0.25), name, "paper"), in_units(Value(0.25), name, "torch")
        assert paper["torch"].centre == pytest.approx(0.25 + axis.torch_shift)  # λ_torch = λ_paper/α along α
        assert torch_form["paper"].centre == pytest.approx(0.25 - axis.torch_shift)
        for rule in RULES:
            if (given := rule.exponents.get(name)) is not None:
                assert rule.exponent(name, rule.convention) == given
    base = Setting(100, 3, 10, 1e-2, 8)
    assert base.moved("lr", 3e-2).run_options() == {"epochs": 3, "batch_size": 10, "lr": 3e-2}
    assert base.moved("N", 200).task_key != base.task_key != base.moved("width", 16).task_key
    assert base.moved("epochs", 6).task_key == base.moved("batch", 20).task_key == base.task_key
    with pytest.raises(UsageError, match="epochs must be a whole number"):
        base.moved("epochs", 2.5)


@pytest.mark.parametrize(("default", "width"), [(16, 16), (16.0, 16), (16.5, None), (None, None), (True, None)])
def test_a_models_default_width_is_read_as_a_whole_number_or_not_at_all(default, width):
    """A ``width=16.0`` model was reported as width=0."""
    from decaylab.lab.task.variants import model_width

    def make_model(width=default):
        return nn.Linear(3, 2)

    task = Task("widths", (torch.randn(8, 3), torch.randint(0, 2, (8,))), None, make_model, batch_size=4)
    assert model_width(task) == width
