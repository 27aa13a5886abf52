"""A study: methods × learning rates × weight decays × seeds on one task, run or resumed."""

from __future__ import annotations

import fcntl
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from decaylab.lab.errors import UsageError
from decaylab.lab.executors import Executor, Unit
from decaylab.lab.store import ResultStore
from decaylab.lab.tasks import DEFAULT_TASK, Task, absolute_spec, load_task
from decaylab.lab.train import SCHEDULES, RunConfig
from decaylab.optim import METHODS

DEFAULT_METHODS = ("adam", "adaml2", "adamw", "adamw-torch", "proxadam", "adamp")
DEFAULT_LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
PER_STEP = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
LR_SCALED = (0.0, 1e-2, 1e-1, 1.0, 10.0, 100.0)
PENALTY = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
DEFAULT_WDS: dict[str, tuple[float, ...]] = {
    "adam": (0.0,),  # no decay: one row
    "adamw": PER_STEP,  # decay η_t·λ per step
    "proxadam": PER_STEP,
    "proxadam-l1": (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3),  # threshold η_t·λ in weight units per step
    "adamw-torch": LR_SCALED,  # decay α·η_t·λ per step: λ ≈ λ_paper/α
    "adamc": LR_SCALED,
    "adaml2": PENALTY,  # the penalty λ/2·‖w‖² in the loss
    "adamp": PENALTY,
}
"""Each method's default λ grid, in the units of its own convention."""

MAX_UNIT_MEMBERS = 64


@dataclass(frozen=True)
class StudySpec:
    """What to run; ``weight_decays=None`` takes each method's default grid, ``epochs=None`` the task's."""

    task: str = DEFAULT_TASK
    methods: tuple[str, ...] = DEFAULT_METHODS
    lrs: tuple[float, ...] = DEFAULT_LRS
    weight_decays: tuple[float, ...] | None = None
    epochs: int | None = None
    seeds: int = 2
    schedule: str = "cosine"

    def __post_init__(self) -> None:
        for method in self.methods:
            if method not in METHODS:
                raise UsageError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        if not self.methods:
            raise UsageError("--methods is empty")
        _check_values("--lrs", self.lrs, positive=True)
        if self.weight_decays is not None:
            _check_values("--wds", self.weight_decays, positive=False)
        if self.epochs is not None and self.epochs < 1:
            raise UsageError(f"--epochs must be at least 1, got {self.epochs}")
        if self.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {self.seeds}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")

    def runs(self, task: Task) -> list[RunConfig]:
        """Every grid point on ``task`` (its identity, batch size and, unless given, epochs), in a fixed order."""
        return [
            RunConfig(
                task.identity, method, lr, decay, seed, self.epochs or task.epochs, self.schedule, task.batch_size
            )
            for method in self.methods
            for seed in range(self.seeds)
            for decay in (self.weight_decays if self.weight_decays is not None else DEFAULT_WDS[method])
            for lr in self.lrs
        ]


def _check_values(flag: str, values: Sequence[float], positive: bool) -> None:
    if not values:
        raise UsageError(f"{flag} is empty")
    for value in values:
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise UsageError(f"{flag} values must be {'> 0' if positive else '>= 0'} and finite, got {value}")


def split_into_units(runs: Sequence[RunConfig], workers: int) -> list[list[RunConfig]]:
    """Group runs that can share a stacked model, in pieces small enough to keep every worker busy."""
    groups: dict[tuple[object, ...], list[RunConfig]] = {}
    for run in runs:
        groups.setdefault(run.unit, []).append(run)
    size = max(1, min(MAX_UNIT_MEMBERS, math.ceil(len(runs) / max(workers, 1))))
    units = [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]
    return sorted(units, key=len, reverse=True)  # largest first: workers finish together


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` for the study; a second study on the same directory is refused."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"another decaylab study is running on {out}; wait for it or use another --out") from None
        yield


def run_study(
    spec: StudySpec, out: Path, executor: Executor, data_dir: Path | None = None, progress: bool = True
) -> list[RunConfig]:
    """Run every grid point of ``spec`` not yet in ``OUT/results.sqlite``; return all of them."""
    task = load_task(spec.task, data_dir)  # in the driver first: bad tasks fail here, data is cached once
    planned = spec.runs(task)
    with exclusive(out):
        store = ResultStore(out)
        try:
            store.record_study({**asdict(spec), "task_identity": task.identity, "epochs": planned[0].epochs})
            run_configs(planned, spec.task, store, executor, data_dir, progress)
        finally:
            store.close()
    return planned


def run_configs(
    planned: Sequence[RunConfig],
    task: str,
    store: ResultStore,
    executor: Executor,
    data_dir: Path | None = None,
    progress: bool = True,
    label: str = "study",
) -> None:
    """Train the runs of ``planned`` that ``store`` lacks, storing each unit as it finishes."""
    finished = store.finished_keys()
    pending = [run for run in planned if run.key not in finished]
    units: list[Unit] = list(split_into_units(pending, executor.workers))
    started = time.perf_counter()
    with tqdm(
        total=len(planned), initial=len(planned) - len(pending), unit="run", desc=label, disable=not progress
    ) as bar:
        for results in executor.run(absolute_spec(task), data_dir, units) if units else ():
            store.add(results)
            bar.update(len(results))
    if progress and pending:
        minutes = (time.perf_counter() - started) / 60
        tqdm.write(f"{label}: {len(pending)} runs in {minutes:.1f} min ({len(pending) / minutes:.0f} runs/min)")
