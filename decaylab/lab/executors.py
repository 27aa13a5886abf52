"""Where units of work run. One small interface: ``run(task, data_dir, units)`` yields each
unit's results as it finishes; the caller (the study driver) is the only writer of the store.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Protocol

import torch

from decaylab.lab.errors import UsageError
from decaylab.lab.tasks import load_task
from decaylab.lab.train import RunConfig, RunResult, train_unit

Unit = Sequence[RunConfig]


class Executor(Protocol):
    workers: int

    def run(self, task: str, data_dir: Path | None, units: Sequence[Unit]) -> Iterator[list[RunResult]]:
        """Train every unit; yield each unit's results as soon as it is done."""
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


def run_unit(task: str, data_dir: Path | None, unit: Unit, device: str = "cpu") -> list[RunResult]:
    """Load the task (once per process) and train one unit: the function every executor runs."""
    return train_unit(load_task(task, data_dir), unit, device=device)


def _single_threaded() -> None:
    torch.set_num_threads(1)


class LocalExecutor:
    """Units on this machine: in this process (``workers=1``) or one process per worker.

    With several workers each process runs one torch thread: for small models, a process per
    core beats one process using every core (measured here: 1.6–2×).
    """

    def __init__(self, workers: int | None = None, device: str = "cpu") -> None:
        self.workers = workers or os.cpu_count() or 1
        self.device = resolve_device(device)

    def run(self, task: str, data_dir: Path | None, units: Sequence[Unit]) -> Iterator[list[RunResult]]:
        if self.workers == 1 or len(units) <= 1:  # no pool to start for one unit, or none
            for unit in units:
                yield run_unit(task, data_dir, unit, self.device)
            return
        context = multiprocessing.get_context("spawn")  # fork would copy the driver's torch threads
        with ProcessPoolExecutor(min(self.workers, len(units)), context, initializer=_single_threaded) as pool:
            pending: set[Future[list[RunResult]]] = {
                pool.submit(run_unit, task, data_dir, unit, self.device) for unit in units
            }
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            finally:
                for future in pending:
                    future.cancel()


def make_executor(
    name: str, workers: int | None = None, device: str = "cpu", address: str | None = None, gpus_per_task: float = 0.0
) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if gpus_per_task:
            raise UsageError("--gpus-per-task needs --executor ray")
        if address:
            raise UsageError("--address needs --executor ray")
        return LocalExecutor(workers, device)
    if name == "ray":
        from decaylab.lab.ray_executor import RayExecutor

        return RayExecutor(workers, device, address, gpus_per_task)
    raise UsageError(f"unknown executor {name!r}; choose local or ray")
