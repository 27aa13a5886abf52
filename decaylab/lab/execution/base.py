"""The executor contract and the function every executor runs (:func:`run_unit`).

One small interface: ``run(work, on_epoch)`` trains every ``(job, unit)`` of ``work`` (units of one
task or of several), yields each unit's ``(index, results)`` as soon as it ends, and calls
``on_epoch(index, epoch)`` in the caller's thread as units finish epochs. The caller (the study
driver) is the only writer of the store.

Every unit trains on one CPU thread, whichever executor runs it and however many workers
there are: intra-op threading changes the order of floating-point sums, and a run's numbers
must depend on its configuration alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import torch

from decaylab.lab.errors import UsageError
from decaylab.lab.runs import RunConfig, RunResult, checkpoint_path
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import load_task, task_file_modules
from decaylab.lab.training.loop import on_one_thread, train_unit

Unit = Sequence[RunConfig]


@dataclass(frozen=True)
class Job:
    """What every unit of a study needs besides its runs.

    ``task`` is a task spec (a built-in name or an absolute ``file.py:function``), which each
    worker loads itself, or a :class:`Task` built in Python (sent to worker processes with
    cloudpickle, as bytes); ``checkpoints`` is the directory of per-epoch unit checkpoints
    (None: no checkpoints); ``weights`` the directory where each member's trained weights are kept
    (None: none are).
    """

    task: str | Task | bytes
    data_dir: Path | None = None
    checkpoints: Path | None = None
    device: str = "cpu"
    weights: Path | None = None


Work = tuple[Job, Unit]
"""A unit and what it needs besides its runs."""
EpochCallback = Callable[[int, int], None]
"""``on_epoch(unit_index, epoch)``: a unit finished an epoch."""
Finished = tuple[int, list[RunResult]]
"""A unit's index and its results."""


class Executor(Protocol):
    workers: int

    def start(self) -> None:
        """Get ready (connect to a cluster): failures surface here, before any progress is shown."""
        ...

    def stop(self) -> None:
        """Let go of what ``start`` took (a local cluster it started)."""
        ...

    def run(self, work: Sequence[Work], on_epoch: EpochCallback) -> Iterator[Finished]:
        """Train every unit of ``work``; yield each unit's index and results as soon as it is done."""
        ...


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda``, or ``auto`` (CUDA where a device is visible, else the CPU)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise UsageError(f"unknown device {device!r}; choose cpu, cuda or auto")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda, but no CUDA device is visible here")
    return device


@functools.cache
def _unpickled_task(payload_digest: str, payload: bytes) -> Task:
    import cloudpickle

    task: Task = cloudpickle.loads(payload)
    return task


def task_of(job: Job) -> Task:
    """The job's task, loaded once per process."""
    if isinstance(job.task, Task):
        return job.task
    if isinstance(job.task, bytes):
        return _unpickled_task(hashlib.sha256(job.task).hexdigest(), job.task)
    return load_task(job.task, job.data_dir)


def placed(work: Sequence[Work], device: str, portable_tasks: bool) -> list[Work]:
    """``work`` with its jobs on ``device``, and (``portable_tasks``) task objects pickled for other
    processes, once per job rather than once per unit."""
    jobs: dict[int, Job] = {}
    for job, _ in work:
        if id(job) not in jobs:
            jobs[id(job)] = portable(replace(job, device=device)) if portable_tasks else replace(job, device=device)
    return [(jobs[id(job)], unit) for job, unit in work]


def portable(job: Job) -> Job:
    """The job as another process can receive it: a task object pickled by value (lambdas and all, and the
    classes and functions of the task file it came from, which the other process cannot import)."""
    if not isinstance(job.task, Task):
        return job
    import cloudpickle

    for module in task_file_modules():
        cloudpickle.register_pickle_by_value(module)

    return replace(job, task=cloudpickle.dumps(job.task))


def run_unit(job: Job, index: int, unit: Unit, report: EpochCallback | None = None) -> list[RunResult]:
    """Train one unit on one CPU thread, checkpointing each epoch: the function every executor runs."""
    keep_freed_memory()
    task = task_of(job)
    checkpoint = checkpoint_path(job.checkpoints, unit) if job.checkpoints is not None else None
    on_epoch = functools.partial(report, index) if report is not None else None
    with on_one_thread(), warnings.catch_warnings():  # the warning is shown once, by the driver's check
        warnings.filterwarnings("ignore", message=BATCHING_RULE_WARNING)
        return train_unit(task, unit, device=job.device, checkpoint=checkpoint, on_epoch=on_epoch, weights=job.weights)


BATCHING_RULE_WARNING = "There is a performance drop because we have not yet implemented the batching rule"
"""torch's warning where ``vmap`` falls back to a loop for one operator (SDPA, ``TransformerEncoder``)."""


@functools.cache
def keep_freed_memory() -> None:
    """Let freed tensors of this process stay in its heap for the next ones (glibc only).

    A stacked activation is megabytes (36 members × 100 × 100 floats is 1.4 MB). glibc serves
    blocks that large with ``mmap`` and unmaps them on free, so every activation of every step
    page-faults its memory in again. Raising the ``mmap`` and trim thresholds reuses the memory
    instead; the process uses no more of it (measured in ``docs/design-notes.md``). Numbers are
    unchanged.
    """
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, "mallopt"):  # not glibc (macOS, musl): nothing to tune
        libc.mallopt(M_MMAP_THRESHOLD, 256 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameter numbers (``malloc.h``)."""
