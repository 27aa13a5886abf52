"""The Python entry point: a study from a notebook, with the same store and resume as ``decaylab study``.

It sits above ``lab`` and ``analysis`` (it returns the rows ``decaylab export`` prints), so that
the dependencies point one way: optim ← lab ← analysis ← claims ← cli, with this module beside cli
(``tests/test_layers.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from decaylab.analysis.export import export_rows
from decaylab.analysis.members import KEEP
from decaylab.analysis.report import write_report
from decaylab.analysis.transfer import rows as transfer_rows
from decaylab.analysis.transfer import summary as transfer_summary
from decaylab.analysis.transfer import write_transfer_report
from decaylab.lab.errors import UsageError
from decaylab.lab.execution import Executor, LocalExecutor, make_executor
from decaylab.lab.practice import AS_USUAL, Practice
from decaylab.lab.store import ResultStore
from decaylab.lab.study import DEFAULT_METHODS, StudySpec, run_study
from decaylab.lab.task.builtin.catalogue import DEFAULT_TASK
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import folder_name, short_name
from decaylab.lab.transfer.measure import Transfer, run_transfer


def study(
    task: str | Task,
    methods: Sequence[str] = DEFAULT_METHODS,
    lrs: Sequence[float] | None = None,
    wds: Sequence[float] | None = None,
    out: str | Path | None = None,
    *,
    seeds: int = 1,
    epochs: int | None = None,
    schedule: str | None = None,
    warmup: float | None = None,
    workers: int | None = None,
    executor: str = "local",
    device: str = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
    keep: str = "none",
    report: bool = False,
    practice: Practice = AS_USUAL,
) -> Any:
    """Run (or resume) a study from Python and return its runs, one row each.

    ``task`` is a :class:`~decaylab.Task` built in Python (a notebook's model and data) or a
    task spec as on the command line. Runs are stored in ``OUT/results.sqlite`` (default
    ``runs/TASK``, as on the command line) exactly as by ``decaylab study``, so calling again
    with the same arguments trains nothing new, and a larger grid trains only the new points.
    ``workers=None`` trains in this process; ``executor="ray"`` on a local Ray cluster. ``keep``:
    ``"best"`` or ``"all"`` keeps trained weights in ``OUT/weights`` (:func:`decaylab.load_member`).
    ``report=True`` writes ``OUT/report.md`` and its figures. ``practice``: which parameters λ reaches, λ's own
    schedule and Muon's Adam half (``Practice(decayed="all")``, as ``--decayed all``). Returns a pandas
    ``DataFrame`` when pandas is installed, else a list of dicts (the columns of ``decaylab export``).
    """
    if keep not in KEEP:
        raise UsageError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
    lr_grid, decay_grid = (None if values is None else tuple(values) for values in (lrs, wds))
    source = task if isinstance(task, str) else "python"
    spec = StudySpec(source, tuple(methods), lr_grid, decay_grid, epochs, seeds, schedule, warmup, practice)
    name = short_name(task) if isinstance(task, str) else task.name
    out = Path(out) if out is not None else Path("runs") / folder_name(name)
    data = Path(data_dir) if data_dir is not None else None
    runner = make_executor(executor, workers, device) if executor != "local" or workers else LocalExecutor(1, device)
    built = None if isinstance(task, str) else task
    for note in spec.notes():
        warnings.warn(note, stacklevel=2)
    planned = run_study(spec, out, runner, data, progress, task=built, keep=KEEP[keep])
    if report:
        write_report(out)
    store = ResultStore(out, read_only=True)
    try:
        rows = export_rows(store, keys={run.key for run in planned})
    finally:
        store.close()
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows)


@dataclass(frozen=True)
class TransferRun:
    """What :func:`transfer` returns: the measurement, the report's path, and one row per setting."""

    result: Transfer
    report: Path
    rows: Any
    """A pandas ``DataFrame`` when pandas is installed, else a list of dicts (``transfer.csv``'s rows)."""

    def __repr__(self) -> str:
        """The advice: the held-out verdict, then the λ to use with its interval, units and the line to paste, or
        what to do instead."""
        return f"{transfer_summary(self.result)}\n(report: {self.report})"


def transfer(
    task: str | Task = DEFAULT_TASK,
    method: str = "adamw",
    *,
    axes: Sequence[str] | None = None,
    values: dict[str, Sequence[float]] | None = None,
    lr: float | None = None,
    seeds: int | None = None,
    to: dict[str, float] | None = None,
    verify: bool = False,
    quick: bool = False,
    out: str | Path | None = None,
    practice: Practice = AS_USUAL,
    executor: str | Executor = "local",
    workers: int | None = None,
    device: str = "auto",
    data_dir: str | Path | None = None,
    progress: bool = True,
) -> TransferRun:
    """Which λ at my scale: ``decaylab transfer`` from Python.

    Measures λ* of ``method`` along the task's axes (``N``, ``epochs``, ``batch``, ``lr``, ``width``; the
    task's defaults, narrowed to ``axes``, with ``values`` per axis where given) at the base α ``lr``
    (None: found by a scan of the method's α grid at the base setting), fits the law with 95% intervals
    over ``seeds``, checks it on each axis's held-out largest value, and predicts λ at the target ``to``
    (e.g. ``{"N": 64000}``), measuring it there too with ``verify``. Runs are stored in ``out`` (default
    ``runs/transfer-TASK-METHOD``); calling again trains only what is missing. Writes ``OUT/transfer.md``.
    The result's ``repr`` is the advice: the held-out verdict, then the λ to use with its interval, units
    and the line to paste, only where the law passed it.
    """
    name = short_name(task) if isinstance(task, str) else task.name
    out = Path(out) if out is not None else Path("runs") / folder_name(f"transfer-{name}-{method}")
    data = Path(data_dir) if data_dir is not None else None
    runner = executor if not isinstance(executor, str) else make_executor(executor, workers, device)
    result = run_transfer(
        task,
        method,
        out,
        runner,
        axes=axes,
        values=values,
        lr=lr,
        seeds=seeds,
        to=to,
        verify=verify,
        quick=quick,
        practice=practice,
        data_dir=data,
        progress=progress,
    )
    report = write_transfer_report(result, out)
    table = transfer_rows(result)
    try:
        import pandas
    except ImportError:
        return TransferRun(result, report, table)
    return TransferRun(result, report, pandas.DataFrame(table))
