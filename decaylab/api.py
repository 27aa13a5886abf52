"""The Python entry point: a study from a notebook, with the same store and resume as ``decaylab study``.

It sits above ``lab`` and ``analysis`` (it returns the rows ``decaylab export`` prints), so that
the dependencies point one way: optim ← lab ← claims/analysis ← cli and this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from decaylab.analysis.export import export_rows
from decaylab.lab.execution import LocalExecutor, make_executor
from decaylab.lab.store import ResultStore
from decaylab.lab.study import DEFAULT_METHODS, StudySpec, run_study
from decaylab.lab.task.contract import Task
from decaylab.lab.task.loading import short_name


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
) -> Any:
    """Run (or resume) a study from Python and return its runs, one row each.

    ``task`` is a :class:`~decaylab.Task` built in Python (a notebook's model and data) or a
    task spec as on the command line. Runs are stored in ``OUT/results.sqlite`` (default
    ``runs/TASK``, as on the command line) exactly as by ``decaylab study``, so calling again
    with the same arguments trains nothing new, and a larger grid trains only the new points.
    ``workers=None`` trains in this process; ``executor="ray"`` on a local Ray cluster. Returns a
    pandas ``DataFrame`` when pandas is installed, else a list of dicts (the columns of
    ``decaylab export``).
    """
    spec = StudySpec(
        task if isinstance(task, str) else "python",
        tuple(methods),
        None if lrs is None else tuple(lrs),
        None if wds is None else tuple(wds),
        epochs,
        seeds,
        schedule,
        warmup,
    )
    out = Path(out) if out is not None else Path("runs") / (short_name(task) if isinstance(task, str) else task.name)
    data = Path(data_dir) if data_dir is not None else None
    runner = make_executor(executor, workers, device) if executor != "local" or workers else LocalExecutor(1, device)
    planned = run_study(spec, out, runner, data, progress, task=None if isinstance(task, str) else task)
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
