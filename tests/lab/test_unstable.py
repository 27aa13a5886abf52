"""Runs that blew up without overflowing are ``unstable``: kept apart from ``done`` and ``diverged`` in the
store, the export, the report, the heatmap and every λ* fit; a store written before the status existed reads
as it was, and takes the status once written to."""

import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from torch.nn.functional import mse_loss

from decaylab.analysis.cells import method_grids
from decaylab.analysis.export import export_rows
from decaylab.analysis.figures import draw_heatmaps
from decaylab.analysis.report import write_report
from decaylab.lab.execution import LocalExecutor
from decaylab.lab.runs import RunConfig, RunResult
from decaylab.lab.store import SCHEMA_VERSION, ResultStore
from decaylab.lab.study import StudySpec, run_study
from decaylab.lab.task.objectives import Metric

HERE = Path(__file__).parent
RIDGE = f"{HERE / 'minibatch_ridge.py'}:make_task"
FROZEN = HERE / "frozen" / "results.sqlite"


def finished(initial: float, losses: list[float]) -> RunResult:
    result = RunResult(RunConfig("task", "sgdl2", 0.1, 0.0, 0, epochs=3), initial_loss=initial)
    result.curves = [(epoch, loss, loss, 0.5) for epoch, loss in enumerate(losses, 1)]
    return result


@pytest.mark.parametrize(
    ("initial", "losses", "unstable"),
    [
        (1.5, [1.2, 0.9, 0.8], False),  # learned
        (1.5, [40.0, 3e4, 2e8], True),  # blew up, finite: the validation losses of 1e4 to 1e8
        (2.3, [2.2, 2.28, 2.30], False),  # heavy decay: the loss rises a little as the decay catches up
        (2.3, [0.1, 0.05, 1.5], True),  # learned, then climbed back most of the way: far past its minimum
        (2.3, [1e-4, 2e-3, 2e-3], False),  # a small late spike on a loss near zero
        (-1.0, [-2.0, -3.0, -3.5], False),  # a loss that may be negative
        (-1.0, [-2.0, -0.5, 0.2], True),
        (1.5, [1.2, 1.0, 1.6], False),  # above a lucky first minibatch, within its noise
    ],
)
def test_a_run_is_unstable_when_its_loss_ends_above_its_start_or_far_back_up_from_its_best(initial, losses, unstable):
    assert finished(initial, losses).unstable is unstable


def test_a_study_stores_blown_up_runs_as_unstable_and_every_reader_keeps_them_apart(tmp_path):
    """SGD at α = 0.3 blows the linear model up (to a loss of 1e20, finite) unless a decay of 0.3 per step
    holds it in."""
    spec = StudySpec(RIDGE, ("sgdw",), (0.3,), (1e-3, 0.3), seeds=1)
    run_study(spec, tmp_path, LocalExecutor(1), progress=False)
    store = ResultStore(tmp_path, read_only=True)
    try:
        rows = {row["weight_decay"]: row for row in export_rows(store)}
        runs = store.runs()
    finally:
        store.close()
    assert rows[1e-3]["status"] == "unstable" and math.isfinite(rows[1e-3]["train_loss"])
    assert rows[0.3]["status"] == "done"
    grid = method_grids(runs, ["sgdw"])[0]
    assert grid.cell(1e-3, 0.3).status == "unstable" and math.isnan(grid.cell(1e-3, 0.3).mean())
    assert grid.best().weight_decay == 0.3  # an unstable cell is never the best
    report = write_report(tmp_path).read_text()
    assert "| 0 / 1 of 2 |" in report  # diverged / unstable cells
    draw_heatmaps([grid], tmp_path / "drawn.png", "unstable")
    assert (tmp_path / "drawn.png").stat().st_size > 0


def test_a_store_from_before_the_status_reads_unchanged_and_admits_it_once_written(tmp_path):
    copy = tmp_path / "results.sqlite"
    shutil.copy(FROZEN, copy)
    before = sqlite3.connect(FROZEN).execute("SELECT * FROM runs ORDER BY key").fetchall()
    reader = ResultStore(tmp_path, read_only=True)
    assert [row["key"] for row in reader.runs()] and len(reader.runs()) == len(before)
    reader.close()
    writer = ResultStore(tmp_path)
    try:
        assert sqlite3.connect(copy).execute("SELECT * FROM runs ORDER BY key").fetchall() == before
        version = writer.db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION)
        result = finished(1.5, [40.0, 3e4, 2e8])
        result.status = "unstable"
        writer.add([result], Metric("loss", mse_loss, higher_is_better=False), "validation")
        assert any(row["status"] == "unstable" for row in writer.runs())
    finally:
        writer.close()
