"""``decaylab transfer``: λ* measured along axes, fitted into a law, checked on held-out settings.

0. Without a given α, the base α is found on the data (:func:`scan_lr`): the method's α grid at the base
   setting, at the middle of its λ grid and at its smallest λ, one grid-batched unit per λ; the largest α
   that trains stably at both and scores within the noise floor of the best is the base.
1. Every setting but the held-out ones searches its λ* in rounds (:mod:`.search`), all settings' rounds
   trained together, each round one grid-batched unit per setting and seed.
2. The law fitted on them (:mod:`.laws`) predicts λ* at each axis's held-out largest value; each
   held-out setting then searches its own λ*, with the predicted λ trained as one more point, so the
   report gives predicted against measured λ* and the metric lost by training at the prediction.
3. The law refitted on every setting predicts λ at the user's target, and ``verify`` measures it there.

Every run goes through the store: a transfer stopped and started again trains nothing twice (its rounds are a
function of the stored results).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decaylab.lab.errors import UsageError
from decaylab.lab.execution import Executor
from decaylab.lab.execution.base import Job
from decaylab.lab.optimum import Estimate, best_point, estimate
from decaylab.lab.practice import AS_USUAL, Practice
from decaylab.lab.rounds import Planned, exclusive, job_of, run_config, run_configs
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import Value, noise_floor, sign_of
from decaylab.lab.store import ResultStore
from decaylab.lab.task.contract import Task
from decaylab.lab.training.trial import prepare_task
from decaylab.lab.transfer import axes as settings
from decaylab.lab.transfer import search
from decaylab.lab.transfer.axes import Axes, Pool, Setting, choose_axes, pool_of, setting_task, target_setting
from decaylab.lab.transfer.laws import Law, fit_law
from decaylab.lab.transfer.scores import prior_of, score, stored, test_metrics
from decaylab.optim import METHODS

SEEDS, QUICK_SEEDS = 5, 3
"""Seeds per setting: five narrow the t intervals (t with 4 degrees of freedom is 2.78, with 2 it is 4.30)."""
MAX_SEEDS = 1000
"""A bound checked before planning: every seed is a search at every setting."""
SCAN_SEED = 0
"""The α scan trains one seed: it chooses where to measure, it decides nothing."""


@dataclass(frozen=True)
class BaseRate:
    """The base α and how it was chosen: given, or found by the scan (:func:`scan_lr`), whose results are
    ``scan``: per α, the validation score at the middle of the λ grid (larger is better; NaN if it failed)
    and whether every scanned λ trained stably."""

    lr: float
    given: bool
    scan: dict[float, tuple[float, bool]] = field(default_factory=dict)
    log_lambdas: tuple[float, ...] = ()
    """The ``log10 λ`` the scan trained each α at."""


@dataclass
class SettingSearch:
    """One setting's λ* search: its prior, the law's prediction it trains besides (a held-out setting, a target),
    and what the store holds.

    ``scores`` are validation scores (larger is better), ``tests`` the test metric as measured.
    """

    setting: Setting
    prior: float
    predicted: float | None = None
    """``log10 λ`` the law predicts here: trained in the first round, and the regret measured there."""
    offsets: tuple[float, ...] = search.BRACKET
    """The first round's points around ``prior``, in decades."""
    scores: dict[float, Mapping[int, float]] = field(default_factory=dict)
    tests: dict[float, dict[int, float]] = field(default_factory=dict)

    def estimate(self, seeds: Sequence[int]) -> Estimate | None:
        return estimate(self.scores, seeds)

    @property
    def extra(self) -> tuple[float, ...]:
        """The points the first round trains besides the bracket."""
        return () if self.predicted is None else (self.predicted,)


@dataclass(frozen=True)
class Check:
    """A held-out (or target) setting: λ* predicted by the law against λ* measured, and the regret of
    training at the prediction: the test metric lost against the measured best point, per seed."""

    setting: Setting
    predicted: Value
    """``log10 λ*``, with the law's 95% interval."""
    measured: Estimate | None
    regret: Value
    """The best point's test metric minus the predicted λ's (larger: the prediction lost more), mean over seeds."""
    noise: float
    """The smallest regret that counts: the noise floor of the metric at the best point
    (:func:`~decaylab.lab.statistics.noise_floor`)."""


@dataclass(frozen=True)
class Transfer:
    """What ``decaylab transfer`` measured."""

    task: str
    method: str
    metric: str
    higher_is_better: bool
    axes: Axes
    seeds: tuple[int, ...]
    searches: dict[Setting, SettingSearch]
    estimates: dict[Setting, Estimate]
    validation_law: Law | None
    """Fitted without the held-out settings."""
    law: Law | None
    """Fitted on every setting: the law the target is predicted by."""
    checks: dict[str, Check]
    """Per axis, its held-out setting."""
    target: Check | None
    keys: frozenset[str]
    """Every run the transfer trained or read."""
    base_lr: BaseRate
    quick: bool = False
    practice: dict[str, Any] = field(default_factory=dict)
    """The runs' :class:`~decaylab.lab.practice.Practice` fields away from their defaults."""

    def exponent(self, axis: str) -> Value:
        """The law's exponent along ``axis``, with its interval (NaN without a law)."""
        return self.law.exponent(axis) if self.law else Value(math.nan)

    def __repr__(self) -> str:  # one line, not every search
        axes, law = ", ".join(self.axes.values), "a law" if self.law else "no law"
        counts = f"settings={len(self.searches)}, runs={len(self.keys)}, seeds={len(self.seeds)}"
        return f"Transfer(task={self.task!r}, method={self.method!r}, axes=({axes}), {counts}: {law})"


class Measurement:
    """The context of one transfer: the task and its pool, the store, the executor."""

    def __init__(
        self,
        task: Task,
        spec: str | None,
        axes: Axes,
        method: str,
        seeds: int,
        store: ResultStore,
        executor: Executor,
        data_dir: Path | None,
        out: Path,
        progress: bool,
        largest_n: int,
    ) -> None:
        self.task, self.spec, self.axes, self.method = task, spec, axes, method
        self.seeds = tuple(range(seeds))
        self.store, self.executor, self.data_dir, self.out, self.progress = store, executor, data_dir, out, progress
        self.pool: Pool = pool_of(task, spec, data_dir, largest_n)
        self.tasks: dict[tuple[Any, ...], tuple[Task, Job]] = {}
        self.keys: set[str] = set()
        self.practice: dict[str, Any] = {}
        """The runs' :class:`~decaylab.lab.practice.Practice` overrides."""

    def task_for(self, setting: Setting, seed: int) -> Task:
        """The task of ``setting`` and ``seed`` (its own draw of the training set), made once."""
        index = (*setting.task_key, seed)
        if index not in self.tasks:
            task = setting_task(self.task, self.pool, setting, seed)
            self.tasks[index] = (task, job_of(task, task, self.data_dir, self.out))
        return self.tasks[index][0]

    def run(self, setting: Setting, seed: int, log_lambda: float) -> RunConfig:
        options = setting.run_options()
        lr = options.pop("lr")
        task = self.task_for(setting, seed)
        return run_config(task, self.method, lr, 10.0**log_lambda, seed, **options, **self.practice)

    def run_searches(self, searches: Sequence[SettingSearch], label: str) -> None:
        """Run the rounds of every search until all are done (each search replayed from the store, so a stopped
        transfer continues where it was); then every search holds its scores and test metrics."""
        sign = sign_of(self.task.selection_metric.higher_is_better)
        rounds = 0
        while True:
            rows = {row["key"]: row for row in self.store.runs()}
            wanted: dict[tuple[Any, ...], list[RunConfig]] = {}
            for one in searches:
                runs = functools.partial(self.runs_at, one.setting)
                one.scores, pending = search.replay(
                    stored(rows, runs, sign), self.seeds, one.prior, one.extra, one.offsets
                )
                one.tests = {x: test_metrics(rows, runs(x)) for x in one.scores}
                for run in (run for x in pending for run in runs(x)):
                    wanted.setdefault((*one.setting.task_key, run.seed), []).append(run)
                self.keys |= {run.key for x in (*one.scores, *pending) for run in runs(x)}
            if not wanted:
                return
            rounds += 1
            planned = [Planned(*self.tasks[index], runs) for index, runs in wanted.items()]
            run_configs(planned, self.store, self.executor, self.progress, label=f"{label}, round {rounds}")

    def runs_at(self, setting: Setting, log_lambda: float) -> list[RunConfig]:
        """The runs of one point of a search: one per seed."""
        return [self.run(setting, seed, log_lambda) for seed in self.seeds]


def regret(one: SettingSearch, at: float, seeds: Sequence[int], higher_is_better: bool) -> Value:
    """Per seed, the best point's test metric (the best by validation, mean over seeds) minus the test metric
    at ``at``, turned so that larger means more lost; mean and t interval over seeds. Infinite where the
    runs at ``at`` diverged."""
    best = best_point(one.scores, seeds)
    if best is None or at not in one.tests:
        return Value(math.nan)
    if not any(math.isfinite(one.tests[at][seed]) for seed in seeds):
        return Value(math.inf)
    sign = sign_of(higher_is_better)
    lost = [sign * (one.tests[best][s] - one.tests[at][s]) for s in seeds]
    return Value.over_seeds([value for value in lost if math.isfinite(value)])


def run_transfer(
    source: str | Task,
    method: str,
    out: Path,
    executor: Executor,
    *,
    axes: Sequence[str] | None = None,
    values: Mapping[str, Sequence[float]] | None = None,
    lr: float | None = None,
    seeds: int | None = None,
    to: Mapping[str, float] | None = None,
    verify: bool = False,
    quick: bool = False,
    practice: Practice = AS_USUAL,
    data_dir: Path | None = None,
    progress: bool = True,
) -> Transfer:
    """Measure λ* along the task's axes (its defaults, narrowed to ``axes``, with ``values`` where given) at
    the base α ``lr`` (None: found by :func:`scan_lr`), fit the law, check it on the held-out settings, and
    predict (and with ``verify`` measure) λ at the target ``to``. ``seeds``: :data:`SEEDS` (3 ``quick``); every
    run under ``practice`` (which parameters λ reaches, λ's own schedule, Muon's Adam half)."""
    if method not in METHODS or not METHODS[method].takes_weight_decay:
        choices = ", ".join(name for name, m in METHODS.items() if m.takes_weight_decay)
        raise UsageError(f"method (--method) must be a method with a weight decay, one of {choices}; got {method!r}")
    if verify and not to:
        raise UsageError("verify (--verify) measures λ* at a target: give one (--to AXIS=VALUE)")
    seeds = seeds if seeds is not None else QUICK_SEEDS if quick else SEEDS
    if not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(f"seeds (--seeds) must be between 1 and {MAX_SEEDS}, got {seeds:,}")
    task = prepare_task(source, data_dir, getattr(executor, "device", "cpu"))
    spec = source if isinstance(source, str) else None
    scan_at = lr if lr is not None else statistics.median(METHODS[method].default_lrs)
    chosen = choose_axes(spec or "", task, scan_at, quick, axes, values or {})
    unmeasured = [axis for axis in to or {} if axis not in chosen.values]
    if unmeasured:
        raise UsageError(
            f"--to {unmeasured[0]}=… needs the law along {unmeasured[0]}, which this transfer does not measure; "
            f"add it to --axes (measured: {', '.join(chosen.values)})"
        )
    target = target_setting(chosen.base, to) if to else None
    trained = [*chosen.settings, *([target] if target is not None and verify else [])]
    settings.check_batches(task, chosen.base, trained, getattr(executor, "device", "cpu"))
    practice.check_one_method(task, method)
    with exclusive(out):
        store = ResultStore(out)
        try:
            executor.start()
            largest = max(setting.N for setting in trained)
            measurement = Measurement(
                task, spec, chosen, method, seeds, store, executor, data_dir, out, progress, largest
            )
            measurement.practice = practice.overrides(method)
            base_lr = BaseRate(lr, given=True) if lr is not None else scan_lr(measurement, chosen.base)
            if not base_lr.given:
                measurement.axes = choose_axes(spec or "", task, base_lr.lr, quick, axes, values or {})
                target = target_setting(measurement.axes.base, to) if to else None
            return measure(measurement, target, verify, base_lr, quick)
        finally:
            executor.stop()
            store.close()


def scan_lr(m: Measurement, base: Setting) -> BaseRate:
    """The base α found on the data: each α of the method's grid trained at ``base`` (one seed) at the middle
    and at the smallest λ of the method's grid; among the α that train stably (neither diverged nor unstable)
    at both, the largest whose validation score at the middle is within the metric's noise floor of the best.
    A learning rate that needs weight decay to stay stable would make λ* a stability limit, not a
    regularization optimum; one far smaller than needed stops training early, which regularizes on its own
    (on a ridge task whose α barely mattered at the base, the smallest α put λ* 0.15 decades low at a
    quarter of the data)."""
    decays = [math.log10(d) for d in METHODS[m.method].default_weight_decays if d > 0]
    middle, smallest = prior_of(m.method), min(decays)
    lrs = METHODS[m.method].default_lrs
    if m.axes.values.get("lr"):
        lrs = tuple(sorted({*lrs, *m.axes.values["lr"]}))
    runs = {(lr, x): m.run(base.moved("lr", lr), SCAN_SEED, x) for lr in lrs for x in (middle, smallest)}
    task, job = m.tasks[(*base.task_key, SCAN_SEED)]
    units = [Planned(task, job, [run for (_, x), run in runs.items() if x == at]) for at in (middle, smallest)]
    while not run_configs(units, m.store, m.executor, m.progress, "choosing α"):  # one unit per λ: one per core
        pass
    m.keys |= {run.key for run in runs.values()}
    rows = {row["key"]: row for row in m.store.runs([run.key for run in runs.values()])}
    sign = sign_of(m.task.selection_metric.higher_is_better)
    scan = {
        lr: (
            score(rows[runs[lr, middle].key], "val_metric", sign),
            all(rows[runs[lr, x].key]["status"] == "done" for x in (middle, smallest)),
        )
        for lr in lrs
    }
    stable = {lr: value for lr, (value, steady) in scan.items() if steady and math.isfinite(value)}
    if not stable:
        raise UsageError(
            f"no learning rate of {', '.join(f'{lr:g}' for lr in lrs)} trains {m.method} stably at the base "
            f"setting ({base}); give one with --lr"
        )
    best = max(stable.values())
    floor = noise_floor(m.task.selection_metric.name == "accuracy", best)
    return BaseRate(max(lr for lr, value in stable.items() if value >= best - floor), False, scan, (middle, smallest))


def measure(m: Measurement, target: Setting | None, verify: bool, base_lr: BaseRate, quick: bool) -> Transfer:
    """The three steps of the module docstring."""
    held_out = m.axes.held_out
    prior = prior_of(m.method)
    searches = {
        setting: SettingSearch(setting, prior) for setting in m.axes.settings if setting not in held_out.values()
    }
    m.run_searches(list(searches.values()), "λ* along the axes")
    estimates = {s: e for s, one in searches.items() if (e := one.estimate(m.seeds)) is not None}
    validation_law = fit_law(m.axes.base, list(m.axes.values), estimates, m.seeds)

    for setting in held_out.values():
        searches[setting] = guided(setting, validation_law, prior)
    m.run_searches([searches[setting] for setting in held_out.values()], "held-out settings")
    checks = {axis: check(m, searches[setting], validation_law) for axis, setting in held_out.items()}
    estimates |= {c.setting: c.measured for c in checks.values() if c.measured is not None}
    law = fit_law(m.axes.base, list(m.axes.values), estimates, m.seeds)

    checked_target = None
    if target is not None and verify and law is not None:
        searches[target] = searches.get(target) or guided(target, law, prior)
        m.run_searches([searches[target]], "the target")
        checked_target = check(m, searches[target], law)
    elif target is not None:
        checked_target = Check(target, law.predict(target) if law else Value(math.nan), None, Value(math.nan), math.nan)
    metric = m.task.selection_metric
    return Transfer(
        m.task.name,
        m.method,
        metric.name,
        metric.higher_is_better,
        m.axes,
        m.seeds,
        searches,
        estimates,
        validation_law,
        law,
        checks,
        checked_target,
        frozenset(m.keys),
        base_lr,
        quick,
        m.practice,
    )


PLAUSIBLE = 4.0
"""How many decades from the method's own prior a law's prediction may lie and still centre a search."""


def guided(setting: Setting, law: Law | None, prior: float) -> SettingSearch:
    """A search whose bracket (half decades, :data:`~.search.GUIDED`) is centred on the law's prediction, which it
    trains as one more point; a bracket of decades around the method's prior where the law predicts nothing, or
    something absurd (a smoke run's law of exponent +14 predicted a decay of 1,000 per step, where every run
    diverges)."""
    predicted = law.predict(setting).centre if law is not None else math.nan
    if math.isfinite(predicted) and abs(predicted - prior) <= PLAUSIBLE:
        return SettingSearch(setting, predicted, predicted, search.GUIDED)
    return SettingSearch(setting, prior)


def check(m: Measurement, one: SettingSearch, law: Law | None) -> Check:
    """The law's prediction at a searched setting against its measured λ*, and the regret of the prediction."""
    predicted = law.predict(one.setting) if law is not None else Value(math.nan)
    higher = m.task.selection_metric.higher_is_better
    lost = regret(one, one.predicted, m.seeds, higher) if one.predicted is not None else Value(math.nan)
    best = best_point(one.scores, m.seeds)
    tests = [value for value in one.tests[best].values() if math.isfinite(value)] if best is not None else []
    reference = statistics.fmean(tests) if tests else math.nan
    noise = noise_floor(m.task.selection_metric.name == "accuracy", reference)
    return Check(one.setting, predicted, one.estimate(m.seeds), lost, noise)
