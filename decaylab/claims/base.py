"""What every claim shares: the verdict it gives, the lab it reads, and the interface it keeps.

A claim is one module of :mod:`decaylab.claims` that defines ``CLAIM``, read as measure → verdict →
draw: its plan (``runs``: the runs it needs, given what the store holds), its measurement
(``measure``: numbers from the store), its verdict rule (``judge``: a pure function of those
numbers, tested on constructed ones) and its figure (``draw``: it only draws). Runs go through
the study engine and the store like any study's, so an interrupted ``claims`` resumes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from decaylab.analysis.cells import Cell, MethodGrid, method_grids
from decaylab.analysis.figures import Ridge
from decaylab.analysis.ridges import good_columns
from decaylab.lab.execution.base import Job
from decaylab.lab.optimum import Estimate, estimate
from decaylab.lab.rounds import job_of, run_config
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import Value, sign_of
from decaylab.lab.store import ResultStore
from decaylab.lab.task.builtin.catalogue import BATCHNORM_TWINS
from decaylab.lab.task.contract import Task
from decaylab.lab.task.variants import OWN_TRAINING_SET, drawn_examples, first_examples, first_held_out
from decaylab.lab.training.trial import prepare_task
from decaylab.lab.transfer.axes import Setting
from decaylab.lab.transfer.laws import fit_law
from decaylab.lab.transfer.scores import prior_of, score, stored
from decaylab.lab.transfer.search import replay
from decaylab.optim import METHODS

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class Verdict:
    """One tested statement: the statistic measured (with its interval), the verdict and the rule that decided."""

    claim: str
    statistic: str
    verdict: str
    rule: str


@dataclass
class Finding:
    """What a claim reports: its verdicts, the figures it drew (file names) and Markdown details."""

    verdicts: list[Verdict]
    figures: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Unmeasured:
    """What ``measure`` returns when the stored runs cannot give the statistic (no finished cell, no
    BatchNorm twin): the claim is reported inconclusive, with the reason."""

    claim: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """How big the claims' studies are: ``decaylab claims`` (full) or ``--quick``."""

    seeds: int
    epochs: int | None
    """Training length (None: each task's own)."""
    lrs: int
    """How many of each method's default learning rates, from the largest down (all six: full)."""
    decays: int
    """How many of each method's default λ values: zero and the largest ones."""
    quick: bool = False

    def lrs_of(self, method: str) -> tuple[float, ...]:
        return METHODS[method].default_lrs[-self.lrs :]

    def decays_of(self, method: str) -> tuple[float, ...]:
        grid = METHODS[method].default_weight_decays
        return grid if not METHODS[method].takes_weight_decay else (grid[0], *grid[len(grid) - self.decays + 1 :])


FULL = Plan(seeds=3, epochs=None, lrs=6, decays=6)
QUICK_HELD_OUT = 200
"""The validation and test examples a ``--quick`` run measures on."""
QUICK = Plan(seeds=1, epochs=2, lrs=3, decays=4, quick=True)
NS_DTYPE = "float32"
"""The claims' Muon runs orthogonalize in float32, on every device: a claim is about a decay rule, not bfloat16's
rounding, and on a CPU bfloat16's matrix products are 15–20 times slower (``benchmarks/newton_schulz.py``)."""

ROLES = {
    "plain": "mnist1d-cnn",
    "bn": BATCHNORM_TWINS["mnist1d-cnn"],
    "mlp": "mnist1d-mlp",
    "mlp-bn": "mnist1d-mlp-bn",
    "ridge": "ridge",
    "charlm": "charlm",
}
"""The tasks claims run on, by role: a model without BatchNorm and its twin with it (the post's
Fig. 1 and the BN claims speak of one architecture), and the tasks of the newer checks."""


class Lab:
    """The claims' shared context: the store, the plan, and the tasks by role (loaded on first use).

    ``specs`` maps a role to a task spec (a built-in name or ``file.py:function``); a role may
    also be a derived task (:meth:`subset`).
    """

    def __init__(self, store: ResultStore, plan: Plan, specs: dict[str, str], data_dir: Path | None, out: Path):
        self.store, self.plan, self.specs, self.data_dir, self.out = store, plan, specs, data_dir, out
        self._tasks: dict[str, tuple[Task, Job]] = {}

    def task(self, role: str) -> Task:
        """A role's task; under ``--quick`` measured on the first :data:`QUICK_HELD_OUT` held-out examples (a
        smoke run spent most of its time evaluating)."""
        if role not in self._tasks:
            task = prepare_task(self.specs[role], self.data_dir)
            if self.plan.quick:
                task = first_held_out(task, QUICK_HELD_OUT)
            source = task if self.plan.quick else self.specs[role]
            self._tasks[role] = (task, job_of(source, task, self.data_dir, self.out))
        return self._tasks[role][0]

    def subset(self, role: str, examples: int, held_out: int | None = None) -> str:
        """A role for ``role``'s task trained on its first ``examples`` training examples only (and measured on the
        first ``held_out`` validation and test examples, where it has more)."""
        name = f"{role}[:{examples}]" + (f"[held out :{held_out}]" if held_out is not None else "")
        if name not in self._tasks:
            smaller = first_examples(self.task(role), examples)
            if held_out is not None and len(smaller.test[0]) > held_out:
                smaller = first_held_out(smaller, held_out)
            self._tasks[name] = (smaller, job_of(smaller, smaller, self.data_dir, self.out))
        return name

    def drawn(self, role: str, examples: int, seed: int) -> str:
        """A role for ``role``'s task trained on ``examples`` of its training examples drawn for ``seed``, as
        ``decaylab transfer`` draws them (nested in size, one draw per seed; all of them: the task itself)."""
        name = f"{role}[{examples} drawn by seed {seed}]"
        if name not in self._tasks:
            task = self.task(role)
            drawn = drawn_examples(task, task.train, OWN_TRAINING_SET, examples, seed)
            self._tasks[name] = (drawn, job_of(drawn, drawn, self.data_dir, self.out))
        return name

    def task_and_job(self, identity: str) -> tuple[Task, Job]:
        """The task (and its job) whose runs carry ``identity``."""
        for task, job in self._tasks.values():
            if task.identity == identity:
                return task, job
        raise KeyError(identity)

    def epochs(self, role: str) -> int:
        return self.plan.epochs or self.task(role).epochs

    def run(self, role: str, method: str, lr: float, decay: float, seed: int, **overrides: Any) -> RunConfig:
        """One grid point on a role's task, with the plan's training length (and a Muon method's Newton–Schulz in
        :data:`NS_DTYPE`) unless overridden."""
        settings: dict[str, Any] = {"epochs": self.epochs(role)}
        if METHODS[method].family == "muon":
            settings["ns_dtype"] = NS_DTYPE
        return run_config(self.task(role), method, lr, decay, seed, **{**settings, **overrides})

    def grid(
        self,
        role: str,
        method: str,
        lrs: Sequence[float] | None = None,
        decays: Sequence[float] | None = None,
        seeds: int | None = None,
        **overrides: Any,
    ) -> list[RunConfig]:
        """A method's α × λ grid (the plan's, unless given) over the plan's seeds."""
        return [
            self.run(role, method, lr, decay, seed, **overrides)
            for seed in range(seeds or self.plan.seeds)
            for decay in (decays if decays is not None else self.plan.decays_of(method))
            for lr in (lrs if lrs is not None else self.plan.lrs_of(method))
        ]

    def stored(self, runs: Sequence[RunConfig]) -> bool:
        """Whether every run of ``runs`` is in the store."""
        return {run.key for run in runs} <= self.finished

    @functools.cached_property
    def finished(self) -> set[str]:
        return self.store.finished_keys()

    @functools.cached_property
    def rows(self) -> dict[str, dict[str, Any]]:
        """Every stored run by key."""
        return {row["key"]: row for row in self.store.runs()}

    def refresh(self) -> None:
        """Forget what was read from the store (after training)."""
        for name in ("finished", "rows"):
            self.__dict__.pop(name, None)

    def search(
        self, roles: str | Callable[[int], str], method: str, lr: float, seeds: int | None = None, **overrides: Any
    ) -> LambdaSearch:
        """The λ* search of ``method`` at α = ``lr`` in rounds (:mod:`decaylab.lab.transfer.search`), each seed on
        ``roles(seed)``'s task (or one role's), replayed from the store: how far it got, and the runs its next
        round needs."""
        seeds_ = tuple(range(seeds or self.plan.seeds))
        role_of = roles if callable(roles) else lambda seed: roles

        def runs_at(log_lambda: float) -> list[RunConfig]:
            return [self.run(role_of(seed), method, lr, 10.0**log_lambda, seed, **overrides) for seed in seeds_]

        sign = sign_of(self.task(role_of(0)).selection_metric.higher_is_better)
        scores, pending = replay(stored(self.rows, runs_at, sign), seeds_, prior_of(method))
        trained = [run for log_lambda in scores for run in runs_at(log_lambda)]
        return LambdaSearch(scores, seeds_, trained, [run for log_lambda in pending for run in runs_at(log_lambda)])

    def coupling(
        self,
        role: str,
        method: str,
        lrs: Sequence[float] | None = None,
        decays: Sequence[float] | None = None,
        seeds: int | None = None,
        *,
        search: bool = True,
        **overrides: Any,
    ) -> tuple[list[RunConfig], Coupling | None]:
        """How ``method``'s best λ moves with α on ``role``'s task: its grid, then λ* searched at every good
        learning-rate column of it (within 5 points, or 5%, of the grid's best) and the slope of log λ* on log α
        seed by seed. The runs it needs so far, and the result once they are all stored. With ``search=False``
        λ* is read from the grid's own λ > 0 in each good column (a grid dense enough around λ*: a half-decade
        step), where a search would cost more runs than a claim on a slow task can spend."""
        seeds_ = seeds or self.plan.seeds
        grid_runs = self.grid(role, method, lrs, decays, seeds, **overrides)
        if not self.stored(grid_runs):
            return grid_runs, None
        grid = self.grids(grid_runs)[method]
        if not search:
            found = {lr: column_estimate(grid, lr, seeds_) for lr in good_columns(grid)}
            return grid_runs, self._coupling(method, grid, found, seeds_)
        searches = {lr: self.search(role, method, lr, seeds, **overrides) for lr in good_columns(grid)}
        runs = grid_runs + [run for one in searches.values() for run in one.runs]
        if any(one.pending for one in searches.values()):
            return runs, None
        return runs, self._coupling(method, grid, {lr: one.estimate() for lr, one in searches.items()}, seeds_)

    @staticmethod
    def _coupling(method: str, grid: MethodGrid, found: Mapping[float, Estimate | None], seeds: int) -> Coupling:
        """The slope of log λ* on log α through the columns whose λ* is interior, seed by seed."""
        estimates = {lr: e for lr, e in found.items() if e is not None and e.interior}
        # the slope of log λ* on log α is the law along the α axis, fitted seed by seed
        base = Setting(0, 0, 0, grid.lrs[0], None)
        law = fit_law(base, ["lr"], {base.moved("lr", lr): e for lr, e in estimates.items()}, range(seeds))
        slope = law.exponent("lr") if law is not None else Value(math.nan)
        return Coupling(method, grid, estimates, slope, seeds)

    def best_cell(self, role: str, method: str) -> Cell | None:
        """The best cell of ``method``'s grid on ``role``'s task (:meth:`grid`, the plan's), once the grid is
        stored: None until then, or if no cell finished. Claims whose plan builds on a best cell (its α, say)
        ask for the grid until this answers."""
        runs = self.grid(role, method)
        return self.grids(runs)[method].best() if self.stored(runs) else None

    def grids(self, runs: Sequence[RunConfig]) -> dict[str, MethodGrid]:
        """The stored runs of ``runs`` as one grid per method (in the runs' order of methods)."""
        methods = list(dict.fromkeys(run.method for run in runs))
        return {g.method: g for g in method_grids(self.store.runs([r.key for r in runs]), methods)}


GRID_WINDOW = 0.55
"""How far from a grid column's best λ its neighbours may lie for the seeds' parabolas: a grid of 1, 3, 10 is
0.48 and 0.52 decades a step, so each parabola takes the best λ and both neighbours."""


def column_estimate(grid: MethodGrid, lr: float, seeds: int) -> Estimate | None:
    """λ* of one learning-rate column of a grid, as a finished search's: each seed's parabola through the
    column's best λ > 0 and its neighbours (validation metric; NaN where a run diverged)."""
    sign = sign_of(grid.scale.higher_is_better)
    scores = {
        math.log10(decay): {run["seed"]: score(run, "val_metric", sign) for run in grid.cell(decay, lr).runs}
        for decay in grid.weight_decays
        if decay > 0
    }
    return estimate(scores, range(seeds), GRID_WINDOW)


@dataclass(frozen=True)
class LambdaSearch:
    """A λ* search replayed from the store (:meth:`Lab.search`)."""

    scores: dict[float, Mapping[int, float]]
    seeds: tuple[int, ...]
    trained: list[RunConfig]
    pending: list[RunConfig]
    """The runs of its next round (none: it is done)."""

    @property
    def runs(self) -> list[RunConfig]:
        return self.trained + self.pending

    def estimate(self) -> Estimate | None:
        """λ* once the search is done (None before, or if every point diverged)."""
        return None if self.pending else estimate(self.scores, self.seeds)


@dataclass(frozen=True)
class Coupling:
    """How a method's best λ moves with α (:meth:`Lab.coupling`): its grid, λ* at each good column where it is
    interior, and the slope of log λ* on log α with its 95% interval over seeds (none with fewer than 3)."""

    method: str
    grid: MethodGrid
    estimates: dict[float, Estimate]
    slope: Value
    seeds: int

    @property
    def columns(self) -> int:
        return len(self.estimates)

    def ridge(self) -> Ridge:
        """λ* per good column as the ridge figure draws it."""
        columns = sorted(self.estimates.items())
        errors = [(e.log_lambda - e.low, e.high - e.log_lambda) for _, e in columns]
        return Ridge(
            self.method,
            [math.log10(lr) for lr, _ in columns],
            [e.log_lambda for _, e in columns],
            errors,
            self.slope.centre,
        )


class Claim(Protocol):
    """One claim, read as measure → verdict → draw.

    ``runs`` says what must be trained (asked again after each round of training, so a plan may
    depend on results, e.g. the best α of a grid); ``measure`` reads the store and returns the
    claim's numbers (or :class:`Unmeasured`); ``judge`` turns the numbers into verdicts and report
    lines, by the rule written beside it; ``draw`` draws the figures and returns their file names.
    ``position`` orders the report."""

    name: str
    title: str
    source: str
    procedure: str
    """What is measured, one paragraph of the report."""
    position: int

    def runs(self, lab: Lab) -> list[RunConfig]: ...

    def measure(self, lab: Lab) -> Any: ...

    def judge(self, measured: Any) -> tuple[list[Verdict], list[str]]: ...

    def draw(self, measured: Any, figures: Path) -> list[str]: ...


def not_measured(claim: str, reason: str) -> Verdict:
    """The verdict of a statement the runs could not decide (too few good columns, no BN twin, ...)."""
    return Verdict(claim, "not measured", INCONCLUSIVE, reason)


def signed(value: float) -> str:
    """A slope or difference with its sign, or — where nothing was measured (never ``+nan``)."""
    return f"{value:+.2f}" if math.isfinite(value) else "—"


def interval(low: float, high: float) -> str:
    return f"[{low:+.2f}, {high:+.2f}]" if math.isfinite(low) and math.isfinite(high) else "(no interval)"
