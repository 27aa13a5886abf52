"""A study: methods × learning rates × weight decays × seeds on one task, run or resumed."""

from __future__ import annotations

import fcntl
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from decaylab.lab.errors import RunFailure, UsageError, one_line
from decaylab.lab.execution import Executor
from decaylab.lab.execution.base import Finished, Job
from decaylab.lab.runs import TASK_SCHEDULE, RunConfig, checkpoint_path, weights_path
from decaylab.lab.store import ResultStore
from decaylab.lab.task.builtin.catalogue import DEFAULT_TASK
from decaylab.lab.task.checks import check_decay_reaches_the_model, check_muon_has_matrices
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import absolute_spec, prepare_task, short_name
from decaylab.lab.task.schedules import SCHEDULES
from decaylab.optim import METHODS

DEFAULT_METHODS = ("adamw", "proxadam", "adamw-torch", "adaml2")
"""The four rules that carry the post's Fig. 1: two decoupled, two coupled."""
CHECKPOINTS = "checkpoints"
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

    def __post_init__(self) -> None:
        if not self.methods:
            raise UsageError("--methods is empty")
        for method in self.methods:
            if method not in METHODS:
                raise UsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if self.lrs is not None:
            _check_values("--lrs", self.lrs, positive=True)
            object.__setattr__(self, "lrs", distinct(float(v) for v in self.lrs))
        if self.weight_decays is not None:
            _check_values("--wds", self.weight_decays, positive=False)
        object.__setattr__(self, "methods", distinct(self.methods))
        if self.weight_decays is not None:
            object.__setattr__(self, "weight_decays", distinct(float(v) for v in self.weight_decays))
        if self.epochs is not None and self.epochs < 1:
            raise UsageError(f"--epochs must be at least 1, got {self.epochs}")
        if self.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {self.seeds}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")
        if self.warmup is not None and not 0.0 <= self.warmup < 1.0:
            raise UsageError(f"--warmup must be a fraction in [0, 1), got {self.warmup}")
        if self.size > MAX_RUNS:
            raise UsageError(
                f"this grid plans {self.size:,} runs ({self.seeds:,} seeds); the limit is {MAX_RUNS:,}: "
                "fewer --seeds, --lrs or --wds"
            )

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
            run_config(task, method, lr, decay, seed, **overrides)
            for method in self.methods
            for seed in range(self.seeds)
            for decay in self.weight_decays_of(method)
            for lr in self.lrs_of(method)
        ]


def run_config(task: Task, method: str, lr: float, weight_decay: float, seed: int, **overrides: Any) -> RunConfig:
    """The grid point ``(method, α, λ, seed)`` on ``task``, with the task's settings unless ``overrides`` says."""
    settings: dict[str, Any] = {
        "epochs": task.epochs,
        "schedule": task.schedule if isinstance(task.schedule, str) else TASK_SCHEDULE,
        "warmup": task.warmup,
        "batch_size": task.batch_size,
        "betas": METHODS[method].betas or task.betas,  # Lion's own; the task's are Adam's
        "eps": task.eps,
        "momentum": task.momentum,
        "clip": task.clip,
    }
    return RunConfig(task.identity, method, lr + 0.0, weight_decay + 0.0, seed, **{**settings, **overrides})


def _check_values(flag: str, values: Sequence[float], positive: bool) -> None:
    if not values:
        raise UsageError(f"{flag} is empty")
    for value in values:
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise UsageError(f"{flag} values must be {'> 0' if positive else '>= 0'} and finite, got {value}")


def split_into_units(runs: Sequence[RunConfig], members_per_unit: int) -> list[list[RunConfig]]:
    """Group runs that can share a stacked model, in pieces of at most ``members_per_unit``.

    The pieces depend on the runs alone, never on the number of workers or the executor, so
    the same study always trains the same units (and so gives the same numbers). A group too
    large for one unit is cut into equal pieces. Largest first: workers finish together.
    """
    groups: dict[tuple[object, ...], list[RunConfig]] = {}
    for run in runs:
        groups.setdefault(run.unit, []).append(run)
    units = []
    for group in groups.values():
        pieces = math.ceil(len(group) / members_per_unit)
        size = math.ceil(len(group) / pieces)
        units += [group[i : i + size] for i in range(0, len(group), size)]
    return sorted(units, key=len, reverse=True)


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` for the study; a second study on the same directory is refused."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = (out / ".lock").open("w")
    except OSError as error:
        raise UsageError(
            f"cannot use {out} as the results directory ({error.strerror}); choose another --out"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another decaylab study is running on {out}; wait for it or use another --out") from None
        yield


def job_of(source: str | Task, task: Task, data_dir: Path | None, out: Path) -> Job:
    """What workers need: the task's spec (each worker loads it), or the task object itself."""
    return Job(task if isinstance(source, Task) else absolute_spec(source), data_dir, out / CHECKPOINTS)


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
    check_decay_reaches_the_model(prepared, (run.weight_decay for run in planned))
    check_muon_has_matrices(prepared, (run.method for run in planned))
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
                keep_weights(part, keep(store, planned), executor, progress)
        finally:
            executor.stop()
            store.close()
    return planned


def keep_weights(part: Planned, wanted: Sequence[RunConfig], executor: Executor, progress: bool) -> None:
    """Keep the trained weights of ``wanted`` (and of no other run of ``part``) in ``part.job.weights``.

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


def failures_as_one_line(finishing: Iterator[Finished]) -> Iterator[Finished]:
    """The executor's finished units; a unit that raised (in a worker too) ends the run with its cause as one
    line (:class:`RunFailure`, exit 1): the runs stored so far are kept."""
    while True:
        try:
            yield next(finishing)
        except StopIteration:
            return
        except (RunFailure, UsageError):  # a bad task that only training shows (its schedule): still bad input
            raise
        except Exception as error:
            raise RunFailure(f"a unit failed: {one_line(error)}; the runs stored so far are kept") from error


@dataclass(frozen=True)
class Planned:
    """Runs of one task to train, and what their units need (the task's :class:`Job`)."""

    task: Task
    job: Job
    runs: Sequence[RunConfig]


def run_configs(
    planned: Sequence[Planned], store: ResultStore, executor: Executor, progress: bool = True, label: str = "study"
) -> bool:
    """Train the runs of ``planned`` that ``store`` lacks (of one task or of several, all at once), storing
    each unit as it finishes; return whether every run of ``planned`` is stored.

    Units are cut from each task's whole plan, then trimmed to their unfinished runs, and recorded
    in the store as one round. A round that was interrupted is finished first, with its recorded
    units, and then this returns False: the caller asks again, with runs that may depend on that
    round (a λ* search's next points). Float32 kernels round a member differently in stacks of
    other sizes, so finishing with the very units an uninterrupted run trains is what makes a
    resumed study, transfer or claims run end with its numbers (and reuse the units' checkpoints).
    """
    for folder in {part.job.checkpoints for part in planned if part.job.checkpoints is not None}:
        for leftover in folder.glob("*.partial"):  # half-written by a kill or a full disk: never read
            leftover.unlink()
    finished = store.finished_keys()
    requested = {run.key: (part, run) for part in planned for run in part.runs}
    interrupted = store.unfinished_round()
    resuming = bool(interrupted) and all(key in requested for keys in interrupted for key in keys)
    if resuming:
        work = [(requested[keys[0]][0], [requested[key][1] for key in keys]) for keys in interrupted]
    else:
        work = [
            (part, pending)
            for part in planned
            for unit in split_into_units(part.runs, part.task.members_per_unit)
            if (pending := [run for run in unit if run.key not in finished])
        ]
        if work:
            store.begin_round([run.key for run in unit] for _, unit in work)
    work.sort(key=lambda item: len(item[1]), reverse=True)  # the largest units first: workers finish together
    to_train = sum(len(unit) for _, unit in work)
    total = to_train if resuming else sum(len(part.runs) for part in planned)
    done_before = total - to_train
    label = f"{label} (finishing the interrupted round)" if resuming else label
    started = time.perf_counter()
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}]"
    with tqdm(total=total, initial=done_before, desc=label, disable=not progress, bar_format=bar_format) as bar:
        credited = [0.0] * len(work)  # the part of each unit's runs the bar shows as done

        def credit(index: int, runs_done: float) -> None:
            credited[index] = runs_done
            shown = done_before + sum(credited)
            bar.update(shown - bar.n)
            bar.n = shown  # exactly: adding up float steps could pass the total

        def on_epoch(index: int, epoch: int) -> None:
            unit = work[index][1]
            credit(index, len(unit) * epoch / unit[0].epochs)

        finishing = executor.run([(part.job, unit) for part, unit in work], on_epoch) if work else iter(())
        for index, results in failures_as_one_line(finishing):
            part, unit = work[index]
            store.add(results, part.task.selection_metric, selected_on=part.task.held_out[0])
            if part.job.checkpoints is not None:
                checkpoint_path(part.job.checkpoints, unit).unlink(missing_ok=True)
            credit(index, len(unit))
    for folder in {part.job.checkpoints for part in planned if part.job.checkpoints is not None}:
        with suppress(OSError):  # emptied by the round: no folder left behind (one in use stays)
            folder.rmdir()
    trained = total - done_before
    if progress and trained:
        minutes = (time.perf_counter() - started) / 60
        tqdm.write(f"{label}: {trained} runs in {minutes:.1f} min ({trained / minutes:.0f} runs/min)")
    return requested.keys() <= store.finished_keys()
