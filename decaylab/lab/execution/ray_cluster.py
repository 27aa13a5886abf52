"""Units of work as Ray tasks, on a local Ray cluster (started and stopped here) or ``--address``.

Results come back to the driver, which stays the only writer of ``results.sqlite``. A worker
that dies mid-unit has its task retried by Ray (3 times); the retry resumes from the unit's
last epoch checkpoint when the worker can read the checkpoint directory (the same machine, or
a results directory on storage every node shares), and starts the unit over otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from decaylab.lab.errors import RunFailure, UsageError, one_line
from decaylab.lab.execution.base import EpochCallback, Finished, Job, Unit, Work, placed, resolve_device, run_unit
from decaylab.lab.execution.watchdog import with_descendants

RETRIES = 3
LINUX = Path("/proc/self/stat").exists()


class _AboveTheBar(logging.Handler):
    """Ray's log messages as lines above decaylab's progress bar."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter("ray: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


class _Progress:
    """A Ray actor the units report their epochs to; the driver collects them."""

    def __init__(self) -> None:
        self.epochs: list[tuple[int, int]] = []

    def report(self, unit: int, epoch: int) -> None:
        self.epochs.append((unit, epoch))

    def collect(self) -> list[tuple[int, int]]:
        epochs, self.epochs = self.epochs, []
        return epochs


def _run_unit_reporting(job: Job, index: int, unit: Unit, progress: Any) -> list[Any]:
    return run_unit(job, index, unit, lambda i, epoch: progress.report.remote(i, epoch))


def check_reachable(address: str, timeout: float) -> None:
    """Fail fast, in one line, if nothing listens at ``HOST:PORT`` (Ray itself retries forever)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address must be HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise UsageError(f"cannot reach the Ray cluster at {address} ({error}); is it running?") from None


class RayExecutor:
    """Each unit one Ray task of one CPU (and ``gpus_per_task`` GPUs, fractions allowed).

    ``workers`` CPUs for a local cluster; with ``address`` the cluster's own resources. The
    device is resolved on the driver for ``cpu``/``auto`` and in the task for ``cuda``, where
    the GPUs are (a driver without one may still send work to a cluster with them).
    ``connect_timeout`` bounds how long reaching ``address`` may take.
    """

    def __init__(
        self,
        workers: int | None = None,
        device: str = "cpu",
        address: str | None = None,
        gpus_per_task: float = 0.0,
        connect_timeout: float = 30.0,
    ) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'decaylab[ray]'") from None
        if not gpus_per_task >= 0:  # NaN too
            raise UsageError(f"--gpus-per-task must be a number >= 0, got {gpus_per_task}")
        if not connect_timeout > 0:
            raise UsageError(f"--connect-timeout must be > 0 seconds, got {connect_timeout}")
        if device == "cuda" and not gpus_per_task:
            gpus_per_task = 1.0
        self.device = device if device == "cuda" else resolve_device(device)
        if self.device == "cuda" and not address:
            resolve_device("cuda")  # a local cluster needs a local GPU
        self.workers = workers or os.cpu_count() or 1
        self.address = address
        self.gpus_per_task = gpus_per_task
        self.connect_timeout = connect_timeout
        self.started_here = False

    def start(self) -> None:
        """Start the local cluster or join ``address``, unless Ray is running in this process already.

        Ray's own messages (its token-authentication notice, say) are written above the progress
        bar rather than through it.
        """
        import ray

        if not ray.is_initialized():
            ray_logger = logging.getLogger("ray")
            if not any(isinstance(h, _AboveTheBar) for h in ray_logger.handlers):
                ray_logger.addHandler(_AboveTheBar())
                ray_logger.propagate = False
            self._connect()
            self.started_here = True

    def stop(self) -> None:
        """Shut Ray down if ``start`` started it (a cluster joined at ``address`` keeps running)."""
        import ray

        if self.started_here:
            ray.shutdown()
            self.started_here = False

    def run(self, work: Sequence[Work], on_epoch: EpochCallback) -> Iterator[Finished]:
        self.start()
        yield from self._run(work, on_epoch)

    def _connect(self) -> None:
        """Start a local cluster, or join ``address`` within ``connect_timeout`` seconds (Ray alone would retry
        forever against an address where nothing answers)."""
        import ray

        options: dict[str, Any] = {
            "address": self.address,
            "num_cpus": None if self.address else self.workers,
            "include_dashboard": False,
            "log_to_driver": False,
            "configure_logging": False,
        }
        if not self.address:
            before = with_descendants({os.getpid()}) if LINUX else set()
            with ray_keeps_our_sigterm():
                ray.init(**options)
            if LINUX:  # the cluster's processes die with this driver, even with a kill -9 (watchdog.py)
                cluster = [str(pid) for pid in with_descendants({os.getpid()}) - before]
                watchdog = [sys.executable, "-m", "decaylab.lab.execution.watchdog", str(os.getpid()), *cluster]
                subprocess.Popen(watchdog, start_new_session=True, stdin=subprocess.DEVNULL)
            return
        check_reachable(self.address, self.connect_timeout)
        failure: list[BaseException] = []

        def connect() -> None:
            try:
                ray.init(**options)
            except Exception as error:  # reported in the caller's thread
                failure.append(error)

        with native_stderr_muted() as unmute:
            attempt = threading.Thread(target=connect, daemon=True)
            attempt.start()
            attempt.join(self.connect_timeout)
            if not attempt.is_alive() and not failure:
                unmute()
        if attempt.is_alive() or failure:
            reason = one_line(failure[0]) if failure else f"no answer in {self.connect_timeout:g} s"
            raise UsageError(f"cannot join the Ray cluster at {self.address} ({reason}); is it a Ray head node?")

    def _run(self, work: Sequence[Work], on_epoch: EpochCallback) -> Iterator[Finished]:
        import ray

        work = placed(work, self.device, portable_tasks=True)
        references: dict[int, Any] = {}  # each job sent once, not per unit
        for job, _ in work:
            references.setdefault(id(job), ray.put(job))
        progress: Any = ray.remote(num_cpus=0)(_Progress).remote()
        remote = ray.remote(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=RETRIES)(_run_unit_reporting)
        pending = {
            remote.remote(references[id(job)], index, list(unit), progress): index
            for index, (job, unit) in enumerate(work)
        }
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for unit, epoch in ray.get(progress.collect.remote()):
                    on_epoch(unit, epoch)
                for reference in done:
                    try:
                        results = ray.get(reference)
                    except ray.exceptions.RayError as error:  # a task's own error is its cause, without Ray's dress
                        cause = getattr(error, "cause", None)
                        raise RunFailure(f"a unit failed on Ray: {one_line(cause or error)}") from error
                    yield pending.pop(reference), results
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)


@contextlib.contextmanager
def ray_keeps_our_sigterm() -> Iterator[None]:
    """``ray.init`` in the main thread installs its own SIGTERM handler (``sys.exit``, which ended a driver
    with a native stack dump); the one decaylab's CLI set (exit 143, like Ctrl-C) is put back."""
    ours = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    finally:
        if ours is not None:
            signal.signal(signal.SIGTERM, ours)


@contextlib.contextmanager
def native_stderr_muted() -> Iterator[Callable[[], None]]:
    """While joining a cluster, Ray's C++ client writes its warnings straight to file descriptor 2 (4–20 lines
    for a wrong address, and more for seconds after decaylab has given up), and its Python side says that no
    SIGTERM handler is set in a thread. Both are muted: descriptor 2 points to ``/dev/null`` and Python's
    ``sys.stderr`` writes to a copy of the real one. Calling the yielded function (a connection that worked)
    puts descriptor 2 back; otherwise it stays muted, so no late C++ line follows decaylab's one."""
    worker_logger = logging.getLogger("ray._private.worker")
    level = worker_logger.level
    worker_logger.setLevel(logging.ERROR)
    sys.stderr.flush()
    real = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    previous = sys.stderr
    sys.stderr = open(real, "w", closefd=False)  # noqa: SIM115 - lives as long as the process may print

    def unmute() -> None:
        sys.stderr.flush()
        os.dup2(real, 2)
        os.close(real)
        sys.stderr = previous

    try:
        yield unmute
    finally:
        worker_logger.setLevel(level)
