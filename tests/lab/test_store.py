"""The store: one row per configuration, all-or-nothing writes, foreign files refused, read-only readers."""

import sqlite3

import pytest

from decaylab.lab.errors import UsageError
from decaylab.lab.runs import RunConfig, RunResult
from decaylab.lab.store import ResultStore
from decaylab.lab.task.objectives import ACCURACY


def result(lr: float, status: str = "done") -> RunResult:
    curves = [(1, 1.0, 1.1, 0.5), (2, 0.8, 0.9, 0.6)]
    return RunResult(RunConfig("tiny", "adamw", lr, 0.0, 0, 2), status, curves, test=(0.95, 0.58))


def test_a_run_is_stored_once_however_often_it_is_added(tmp_path):
    store = ResultStore(tmp_path)
    store.add([result(1e-2), result(1e-3, "diverged")], ACCURACY, "validation")
    store.add([result(1e-2)], ACCURACY, "validation")
    rows = store.runs()
    assert len(rows) == 2 and {r["status"] for r in rows} == {"done", "diverged"}
    assert store.curves(rows[0]["key"])[-1] == (2, 0.8, 0.9, 0.6)
    assert rows[0]["val_metric"] == 0.6 and rows[0]["test_metric"] == 0.58 and rows[0]["epochs_done"] == 2
    assert rows[0]["metric"] == "accuracy" and rows[0]["higher_is_better"] == 1


def test_the_run_key_is_stable_and_covers_the_whole_configuration():
    a = RunConfig("tiny", "adamw", 1e-2, 0.0, 0, 2)
    assert a.key == RunConfig("tiny", "adamw", 1e-2, 0.0, 0, 2).key
    assert a.key != RunConfig("tiny", "adamw", 1e-2, 0.0, 0, 3).key != RunConfig("tiny", "adamw", 1e-2, 0.0, 1, 2).key
    assert a.key != RunConfig("tiny", "adamw", 1e-2, 0.0, 0, 2, clip=1.0).key


def test_a_foreign_sqlite_file_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "results.sqlite") as db:
        db.execute("CREATE TABLE things (x)")
    with pytest.raises(UsageError, match="not a decaylab results database"):
        ResultStore(tmp_path)


def test_an_unreadable_file_is_refused(tmp_path):
    (tmp_path / "results.sqlite").write_bytes(b"this is not sqlite at all, just some bytes" * 50)
    with pytest.raises(UsageError, match="not a readable decaylab results database"):
        ResultStore(tmp_path)


def test_reading_a_directory_without_results_is_refused_and_creates_nothing(tmp_path):
    with pytest.raises(UsageError, match="no results"):
        ResultStore(tmp_path, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_never_writes_not_even_a_schema_into_an_empty_file(tmp_path):
    (tmp_path / "results.sqlite").touch()
    with pytest.raises(UsageError, match="not a decaylab results database"):
        ResultStore(tmp_path, read_only=True)
    assert (tmp_path / "results.sqlite").stat().st_size == 0
