"""Units on this machine: in this process, or one worker process per core, each dying with its driver."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from decaylab.lab.errors import RunFailure
from decaylab.lab.execution.base import EpochCallback, Finished, Job, Unit, Work, placed, resolve_device, run_unit
from decaylab.lab.runs import RunResult


def _worker_start(progress: Any, parent: int) -> None:
    """In each worker process: report progress to the driver, and die with it (no orphans)."""
    global _progress
    _progress = progress
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


_progress: Any = None
ORPHAN_POLL_SECONDS = 0.5


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    os._exit(1)  # the driver is gone (killed): nobody will store this work


def _run_unit_in_worker(job: Job, index: int, unit: Unit) -> list[RunResult]:
    return run_unit(job, index, unit, lambda i, epoch: _progress.put((i, epoch)))


@contextmanager
def ctrl_c_ignored_by_new_workers() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (a new Python keeps an ignored SIGINT ignored): Ctrl-C
    reaches the whole process group, and a worker still importing printed half a traceback. The driver stops
    them itself on Ctrl-C, and a worker whose driver is gone exits (:func:`_exit_when_orphaned`)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


class LocalExecutor:
    """Units on this machine: in this process (``workers=1``) or one process per worker."""

    def __init__(self, workers: int | None = None, device: str = "cpu") -> None:
        self.workers = workers or os.cpu_count() or 1
        self.device = resolve_device(device)
        self.pool: ProcessPoolExecutor | None = None
        self.progress: Any = None

    def start(self) -> None:
        """Nothing to connect to: the worker processes start with the first run that needs them."""

    def stop(self) -> None:
        """End the worker processes: they serve every run between :meth:`start` and here (a transfer's rounds
        each paid seconds of process start-up and imports before)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None

    def workers_pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            context = multiprocessing.get_context("spawn")  # fork would copy the driver's torch threads
            self.progress = context.SimpleQueue()
            initargs = (self.progress, os.getpid())
            self.pool = ProcessPoolExecutor(self.workers, context, initializer=_worker_start, initargs=initargs)
        return self.pool

    def run(self, work: Sequence[Work], on_epoch: EpochCallback) -> Iterator[Finished]:
        in_process = self.workers == 1 or len(work) <= 1  # no pool to start for one unit, or none
        work = placed(work, self.device, portable_tasks=not in_process)
        if in_process:
            for index, (job, unit) in enumerate(work):
                yield index, run_unit(job, index, unit, on_epoch)
            return
        pool, progress = self.workers_pool(), self.progress
        with ctrl_c_ignored_by_new_workers():  # submitting starts the workers
            pending: dict[Future[list[RunResult]], int] = {
                pool.submit(_run_unit_in_worker, job, index, unit): index for index, (job, unit) in enumerate(work)
            }
        try:
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while not progress.empty():
                    on_epoch(*progress.get())
                for future in done:
                    yield pending.pop(future), future.result()
        except BrokenProcessPool:
            raise RunFailure(
                "a worker process died (killed, or out of memory; from a Python script, a call to decaylab at the "
                'script\'s top level runs again in each worker: put it under `if __name__ == "__main__":`); '
                "run the same command to resume"
            ) from None
        finally:
            if pending:  # interrupted or failed: stop the units in flight rather than wait for them
                for process in list(pool._processes.values()):
                    process.terminate()
                self.stop()
