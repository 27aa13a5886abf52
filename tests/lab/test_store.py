"""The store: one row per configuration, all-or-nothing writes, foreign files refused, read-only readers; a kill at
creation, damage and deletion each end in a usable store or one line."""

import random
import sqlite3
import subprocess
import sys
import time

import pytest

from decaylab.lab.errors import RunFailure, UsageError
from decaylab.lab.rounds import exclusive
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


CREATE = (
    "import sys, time\nfrom pathlib import Path\nfrom decaylab.lab.store import ResultStore\n"
    "print('ready', flush=True)\nsys.stdin.readline()\nResultStore(Path(sys.argv[1]))\ntime.sleep(60)\n"
)


def test_a_store_killed_at_any_moment_of_its_creation_is_finished_by_the_next_run(tmp_path):
    """20 kills at random moments of creation (some before the file exists, some mid-transaction, some
    after): every store opens afterwards, and none is refused as foreign."""
    rng = random.Random(0)
    for attempt in range(20):
        out = tmp_path / str(attempt)
        process = subprocess.Popen([sys.executable, "-c", CREATE, str(out)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert process.stdout.readline() == "ready\n"
        process.stdin.write("go\n")
        process.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.03))
        process.kill()
        process.wait()
        store = ResultStore(out)
        store.add([result(1e-2)], ACCURACY, "validation")
        assert len(store.runs()) == 1


def test_a_half_made_store_is_finished_but_a_file_with_rows_or_other_tables_is_not_touched(tmp_path):
    with sqlite3.connect(tmp_path / "results.sqlite") as db:  # tables made, meta rows never written
        db.executescript("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE runs (key);")
    ResultStore(tmp_path).add([result(1e-2)], ACCURACY, "validation")
    assert len(ResultStore(tmp_path, read_only=True).runs()) == 1
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / "results.sqlite") as db:
        db.executescript(
            "CREATE TABLE meta (name TEXT, value TEXT); CREATE TABLE runs (key); INSERT INTO runs VALUES (1);"
        )
    with pytest.raises(UsageError, match="not a decaylab results database"):
        ResultStore(foreign)
    assert sqlite3.connect(foreign / "results.sqlite").execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_a_damaged_store_or_one_without_its_tables_is_one_line_that_says_how_to_recover(tmp_path):
    store = ResultStore(tmp_path)
    store.add([result(lr) for lr in (1e-3, 1e-2, 1e-1)], ACCURACY, "validation")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = tmp_path / "results.sqlite"
    data = bytearray(path.read_bytes())
    data[4096 : 2 * 4096] = b"\xff" * 4096  # one page overwritten
    path.write_bytes(bytes(data))
    for read_only in (False, True):
        with pytest.raises(RunFailure, match=r"damaged.*recover"):
            ResultStore(tmp_path, read_only=read_only)
    bare = tmp_path / "bare"
    bare.mkdir()
    with sqlite3.connect(bare / "results.sqlite") as db:
        db.executescript("CREATE TABLE meta (name TEXT, value TEXT); INSERT INTO meta VALUES ('application', "
                         "'decaylab'), ('schema_version', '2');")  # fmt: skip
    with pytest.raises(RunFailure, match="no table"):
        ResultStore(bare)


def test_a_store_deleted_while_open_is_written_again_with_every_run(tmp_path, capsys):
    store = ResultStore(tmp_path)
    store.add([result(1e-3)], ACCURACY, "validation")
    reader = subprocess.Popen(  # another process that keeps the file open (a notebook reading the runs)
        [sys.executable, "-c", HOLD_OPEN, str(tmp_path / "results.sqlite")], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout.readline() == "1\n"
    (tmp_path / "results.sqlite").unlink()
    store.add([result(1e-2)], ACCURACY, "validation")
    store.close()
    reader.kill()
    assert len(ResultStore(tmp_path, read_only=True).runs()) == 2
    assert "deleted during the run" in capsys.readouterr().err


HOLD_OPEN = (
    "import sqlite3, sys, time\ndb = sqlite3.connect(sys.argv[1])\n"
    "print(db.execute('SELECT count(*) FROM runs').fetchone()[0], flush=True)\ntime.sleep(60)\n"
)


def test_a_run_refused_inside_its_lock_leaves_no_empty_store_but_keeps_one_it_found(tmp_path):
    """A transfer refused after it opened its store left an empty results.sqlite behind."""
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="refused"), exclusive(out):
        ResultStore(out).close()
        raise UsageError("refused")
    assert not list(out.glob("results.sqlite*"))
    ResultStore(out).close()  # one that was there before: the user's, kept
    with pytest.raises(UsageError, match="refused"), exclusive(out):
        ResultStore(out).close()
        raise UsageError("refused")
    assert (out / "results.sqlite").exists()
