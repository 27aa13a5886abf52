"""A study: methods × learning rates × weight decays × seeds on one task, run or resumed."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from decaylab.lab.errors import UsageError
from decaylab.lab.execution import Executor
from decaylab.lab.practice import AS_USUAL, Practice
from decaylab.lab.rounds import Planned, exclusive, job_of, run_config, run_configs, split_into_units
from decaylab.lab.runs import RunConfig, weights_path
from decaylab.lab.store import ResultStore
from decaylab.lab.task.builtin.catalogue import DEFAULT_TASK
from decaylab.lab.task.checks import check_muon_has_matrices
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import absolute_spec, short_name
from decaylab.lab.task.schedules import SCHEDULES, check_length
from decaylab.lab.training.trial import prepare_task
from decaylab.optim import METHODS
from decaylab.optim.rules import UNITS

DEFAULT_METHODS = ("adamw", "proxadam", "adamw-torch", "adaml2")
"""The four rules that carry the post's Fig. 1: two decoupled, two coupled."""
MAX_RUNS = 1_000_000
"""The most runs a study may plan: checked before planning (a typo of ``--seeds 1e20`` would plan for ever)."""
WEIGHTS = "weights"
"""Where ``--keep`` keeps trained members: ``OUT/weights/KEY.pt``."""
Chooser = Callable[[ResultStore, Sequence[RunConfig]], list[RunConfig]]
"""Which of a study's runs to keep the weights of, once its results are stored."""


def distinct(values: Iterable[Any]) -> tuple[Any, ...]:
    """``values`` in order without repeats, ``-0.0`` read as ``0.0`` (one grid point, one run key)."""
    return tuple(dict.fromkeys(value + 0.0 if isinstance(value, float) else value for value in values))


@dataclass(frozen=True)
class StudySpec:
    """What to run. ``lrs`` and ``weight_decays`` left as None give each method its default grid;
    ``epochs``, ``schedule`` and ``warmup`` left as None are the task's own. Repeated values count once."""

    task: str = DEFAULT_TASK
    methods: tuple[str, ...] = DEFAULT_METHODS
    lrs: tuple[float, ...] | None = None
    weight_decays: tuple[float, ...] | None = None
    epochs: int | None = None
    seeds: int = 1
    schedule: str | None = None
    warmup: float | None = None
    practice: Practice = AS_USUAL
    """Which parameters λ reaches, λ's own schedule, Muon's Adam half (:class:`~decaylab.lab.practice.Practice`)."""

    def __post_init__(self) -> None:
        if not self.methods:
            raise UsageError("methods (--methods) is empty")
        for method in self.methods:
            if method not in METHODS:
                raise UsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if self.lrs is not None:
            _check_values("learning rates (--lrs)", self.lrs, positive=True)
            object.__setattr__(self, "lrs", distinct(float(v) for v in self.lrs))
        if self.weight_decays is not None:
            _check_values("weight decays (--wds)", self.weight_decays, positive=False)
        object.__setattr__(self, "methods", distinct(self.methods))
        if self.weight_decays is not None:
            object.__setattr__(self, "weight_decays", distinct(float(v) for v in self.weight_decays))
        if self.epochs is not None and self.epochs < 1:
            raise UsageError(f"epochs (--epochs) must be at least 1, got {self.epochs}")
        if self.seeds < 1:
            raise UsageError(f"seeds (--seeds) must be at least 1, got {self.seeds}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")
        if self.warmup is not None and not 0.0 <= self.warmup < 1.0:
            raise UsageError(f"warmup (--warmup) must be a fraction in [0, 1), got {self.warmup}")
        if self.size > MAX_RUNS:
            raise UsageError(
                f"this grid plans {self.size:,} runs ({self.seeds:,} seeds); the limit is {MAX_RUNS:,}: "
                "fewer --seeds, --lrs or --wds"
            )

    def notes(self) -> list[str]:
        """What a user should know of a grid that runs as given but may not be what was meant: a λ list given to
        methods that take none, or to both forms of one decay (paper and torch: a λ apart by a factor α)."""
        notes = self.practice.notes(self.methods)
        if self.weight_decays is None or not any(self.weight_decays):
            return notes
        undecayed = [method for method in self.methods if not METHODS[method].takes_weight_decay]
        if undecayed:
            notes.append(f"{', '.join(undecayed)} takes no weight decay: its runs are at λ = 0")
        units: dict[str, list[str]] = {}
        for method in self.methods:
            if METHODS[method].units in ("paper", "torch"):  # the same decay, read per step or per unit of lr
                units.setdefault(METHODS[method].units, []).append(method)
        if len(units) > 1:
            kinds = "; ".join(f"for {', '.join(names)} {UNITS[unit]}" for unit, names in units.items())
            notes.append(
                f"one --wds list is a different λ for each of these methods ({kinds}; λ_paper = α·λ_torch): leave "
                "--wds out for each method's own grid, or run them as separate studies"
            )
        return notes

    @property
    def size(self) -> int:
        """The runs the grid plans: seeds × each method's α × λ cells."""
        return self.seeds * sum(len(self.lrs_of(m)) * len(self.weight_decays_of(m)) for m in self.methods)

    def lrs_of(self, method: str) -> tuple[float, ...]:
        """The α grid of ``method``: the given one, or the method's default."""
        return self.lrs if self.lrs is not None else METHODS[method].default_lrs

    def weight_decays_of(self, method: str) -> tuple[float, ...]:
        """The λ grid of ``method``: the given one, or the method's default (one 0 if it takes no λ)."""
        if not METHODS[method].takes_weight_decay:
            return (0.0,)
        return self.weight_decays if self.weight_decays is not None else METHODS[method].default_weight_decays

    def runs(self, task: Task) -> list[RunConfig]:
        """Every grid point on ``task`` (its identity and settings, unless overridden), in a fixed order."""
        overrides = {
            name: value
            for name, value in (("epochs", self.epochs), ("schedule", self.schedule), ("warmup", self.warmup))
            if value is not None
        }
        return [
            run_config(task, method, lr, decay, seed, **overrides, **self.practice.overrides(method))
            for method in self.methods
            for seed in range(self.seeds)
            for decay in self.weight_decays_of(method)
            for lr in self.lrs_of(method)
        ]


def _check_values(what: str, values: Sequence[float], positive: bool) -> None:
    if not values:
        raise UsageError(f"{what} is empty")
    for value in values:
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise UsageError(f"{what}: values must be {'> 0' if positive else '>= 0'} and finite, got {value}")


def run_study(
    spec: StudySpec,
    out: Path,
    executor: Executor,
    data_dir: Path | None = None,
    progress: bool = True,
    task: Task | None = None,
    keep: Chooser | None = None,
) -> list[RunConfig]:
    """Run every grid point of ``spec`` not yet in ``OUT/results.sqlite``; return all of them.

    ``task`` replaces ``spec.task`` with a task built in Python. ``keep`` chooses the runs whose trained
    weights are kept in ``OUT/weights`` (:func:`keep_weights`).
    """
    source: str | Task = task if task is not None else spec.task
    prepared = prepare_task(source, data_dir, getattr(executor, "device", "cpu"))
    planned = spec.runs(prepared)
    check_length(planned[0].epochs * math.ceil(len(prepared.train[0]) / planned[0].batch_size))
    check_muon_has_matrices(prepared, (run.method for run in planned))
    spec.practice.check(prepared, spec.methods, [run.weight_decay for run in planned])
    with exclusive(out):
        store = ResultStore(out)
        try:
            executor.start()  # after the store is known to be good; before the progress bar
            record = {**asdict(spec), "task": prepared.name if task is not None else short_name(spec.task)}
            store.record_study(
                {
                    **record,
                    "task_identity": prepared.identity,
                    "epochs": planned[0].epochs,
                    "schedule": planned[0].schedule,
                    "warmup": planned[0].warmup,
                    "references": list(prepared.references),
                    "task_spec": None if task is not None else absolute_spec(spec.task),
                }
            )
            job = job_of(source, prepared, data_dir, out)
            part = Planned(prepared, replace(job, weights=out / WEIGHTS) if keep else job, planned)
            while not run_configs([part], store, executor, progress):
                continue  # an interrupted round of another grid in this store came first
            if keep is not None:
                kept = keep_weights(part, keep(store, planned), executor, progress)
                store.record_weights({run.key: file_hash(weights_path(out / WEIGHTS, run.key)) for run in kept})
        finally:
            executor.stop()
            store.close()
    return planned


def keep_weights(part: Planned, wanted: Sequence[RunConfig], executor: Executor, progress: bool) -> list[RunConfig]:
    """Keep the trained weights of ``wanted`` (and of no other run of ``part``) in ``part.job.weights``; return
    those kept (a diverged run has none).

    Runs trained before their weights were asked for are trained again to get them: a run's numbers
    depend on its configuration alone, so its weights are the ones its stored results came from (to
    float32 rounding, where the members it shares a unit with change the batched arithmetic).
    """
    folder = part.job.weights
    assert folder is not None, "keep_weights needs a job that keeps weights"
    missing = [run for run in wanted if not weights_path(folder, run.key).exists()]
    if missing:
        job = replace(part.job, checkpoints=None)
        work = [(job, unit) for unit in split_into_units(missing, part.task.members_per_unit)]
        with tqdm(total=len(work), desc="weights", disable=not progress, unit="unit") as bar:
            for _ in executor.run(work, lambda index, epoch: None):
                bar.update()
    kept = {run.key for run in wanted}
    for run in part.runs:
        if run.key not in kept:
            weights_path(folder, run.key).unlink(missing_ok=True)
    return [run for run in wanted if weights_path(folder, run.key).exists()]


def file_hash(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
