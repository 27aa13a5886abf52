"""Units of work as Ray tasks, on a local Ray cluster (started and stopped here) or ``--address``.

Results come back to the driver, which stays the only writer of ``results.sqlite``. A worker
that dies mid-unit has its task retried by Ray; a unit's runs are stored only once it
returns, so nothing is lost or doubled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from decaylab.lab.errors import UsageError
from decaylab.lab.executors import Unit, resolve_device, run_unit
from decaylab.lab.train import RunResult

RETRIES = 3


def _run_unit_single_threaded(task: str, data_dir: Path | None, unit: Unit, device: str) -> list[RunResult]:
    torch.set_num_threads(1)  # one CPU per task, as Ray schedules it
    return run_unit(task, data_dir, unit, device)


class RayExecutor:
    """Each unit one Ray task of one CPU (and ``gpus_per_task`` GPUs, fractions allowed).

    ``workers`` CPUs for a local cluster; with ``address`` the cluster's own resources. The
    device is resolved on the driver for ``cpu``/``auto`` and in the task for ``cuda``, where
    the GPUs are (a driver without one may still send work to a cluster with them).
    """

    def __init__(
        self,
        workers: int | None = None,
        device: str = "cpu",
        address: str | None = None,
        gpus_per_task: float = 0.0,
    ) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'decaylab[ray]'") from None
        if gpus_per_task < 0:
            raise UsageError(f"--gpus-per-task must be >= 0, got {gpus_per_task}")
        if device == "cuda" and not gpus_per_task:
            gpus_per_task = 1.0
        self.device = device if device == "cuda" else resolve_device(device)
        if self.device == "cuda" and not address:
            resolve_device("cuda")  # a local cluster needs a local GPU
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self.gpus_per_task = gpus_per_task

    def run(self, task: str, data_dir: Path | None, units: Sequence[Unit]) -> Iterator[list[RunResult]]:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            try:
                ray.init(
                    address=self.address,
                    num_cpus=None if self.address else self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise UsageError(f"cannot reach the Ray cluster at {self.address}: {error}") from error
        remote = ray.remote(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=RETRIES)(_run_unit_single_threaded)
        pending: list[Any] = [remote.remote(task, data_dir, list(unit), self.device) for unit in units]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)
            if started_here:
                ray.shutdown()
