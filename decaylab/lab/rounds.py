"""Rounds of training, the engine under a study, a transfer and the claims: grid points as run configurations,
cut into units that share a stacked model, trained on an executor and stored as each unit finishes, one round
at a time so that an interrupted round is finished with its own units (:func:`run_configs`)."""

from __future__ import annotations

import fcntl
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from decaylab.lab.errors import RunFailure, UsageError, one_line
from decaylab.lab.execution import Executor
from decaylab.lab.execution.base import Finished, Job
from decaylab.lab.runs import TASK_SCHEDULE, RunConfig, checkpoint_path
from decaylab.lab.store import RESULTS_FILE, ResultStore, remove_if_empty
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import absolute_spec
from decaylab.optim import METHODS

CHECKPOINTS = "checkpoints"
"""Where units checkpoint: ``OUT/checkpoints``."""


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
    """Hold ``OUT/.lock`` while a study, a transfer or the claims use ``out``; a second run there is refused. A
    run refused inside (a :class:`UsageError`) leaves no empty store behind."""
    new_store = not (out / RESULTS_FILE).exists()
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
            raise UsageError(
                f"another decaylab run (a study, a transfer or the claims) is using {out}; "
                "wait for it or use another --out"
            ) from None
        try:
            yield
        except UsageError:
            if new_store:
                remove_if_empty(out)
            raise


def job_of(source: str | Task, task: Task, data_dir: Path | None, out: Path) -> Job:
    """What workers need: the task's spec (each worker loads it), or the task object itself."""
    return Job(task if isinstance(source, Task) else absolute_spec(source), data_dir, out / CHECKPOINTS)


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


def round_of(planned: Sequence[Planned], store: ResultStore) -> tuple[list[tuple[Planned, list[RunConfig]]], bool]:
    """The units to train, largest first, and whether they finish an interrupted round (its own units, if every
    run of it is among ``planned``); else the units of the runs ``store`` lacks, recorded as a new round."""
    requested = {run.key: (part, run) for part in planned for run in part.runs}
    interrupted = store.unfinished_round()
    resuming = bool(interrupted) and all(key in requested for keys in interrupted for key in keys)
    if resuming:
        work = [(requested[keys[0]][0], [requested[key][1] for key in keys]) for keys in interrupted]
    else:
        finished = store.finished_keys()
        work = [
            (part, pending)
            for part in planned
            for unit in split_into_units(part.runs, part.task.members_per_unit)
            if (pending := [run for run in unit if run.key not in finished])
        ]
        if work:
            store.begin_round([run.key for run in unit] for _, unit in work)
    work.sort(key=lambda item: len(item[1]), reverse=True)  # the largest units first: workers finish together
    return work, resuming


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
    requested = {run.key: (part, run) for part in planned for run in part.runs}
    work, resuming = round_of(planned, store)
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
