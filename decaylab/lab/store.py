"""The results store: SQLite at ``OUT/results.sqlite``, one writer, runs keyed by configuration.

Tables: ``runs`` (one row per finished run, ``done``, ``unstable`` or ``diverged``), ``curves`` (per-epoch
metrics on the held-out split the best cell is chosen on), ``layers`` (per-epoch norm and
rotation of BatchNorm-fed weights), ``measurements`` (per-epoch values of a run's probes),
``studies`` (each study's specification, so a report can be redrawn), ``meta`` (marks the
file as decaylab's), ``round`` (the units of the round of training in progress, so an interrupted
one is finished with the same units). A unit's runs are written in one
transaction, so a study killed at any moment loses at most the units in flight and never
stores a run twice. Readers (``export``, ``report``) open the file read-only and never
change it, so results on read-only storage can be read.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from decaylab.lab.errors import RunFailure, StoreFrozen, UsageError
from decaylab.lab.runs import RunResult
from decaylab.lab.task.objectives import Metric

APPLICATION = "decaylab"
SCHEMA_VERSION = 3
READABLE_VERSIONS = ("2", "3")
"""Version 3 admits the status ``unstable``; a version-2 store reads as it is, and is migrated when written."""
RESULTS_FILE = "results.sqlite"

SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, method TEXT NOT NULL, lr REAL NOT NULL,
    weight_decay REAL NOT NULL, seed INTEGER NOT NULL, epochs INTEGER NOT NULL, schedule TEXT NOT NULL,
    warmup REAL NOT NULL, status TEXT NOT NULL CHECK (status IN ('done', 'unstable', 'diverged')),
    epochs_done INTEGER NOT NULL, metric TEXT NOT NULL, higher_is_better INTEGER NOT NULL,
    selected_on TEXT NOT NULL, train_loss REAL, val_loss REAL, val_metric REAL, test_loss REAL, test_metric REAL,
    seconds REAL NOT NULL, finished_at REAL NOT NULL, config TEXT NOT NULL
);
CREATE TABLE curves (
    key TEXT NOT NULL REFERENCES runs(key), epoch INTEGER NOT NULL,
    train_loss REAL NOT NULL, val_loss REAL NOT NULL, val_metric REAL NOT NULL, PRIMARY KEY (key, epoch)
);
CREATE TABLE layers (
    key TEXT NOT NULL REFERENCES runs(key), epoch INTEGER NOT NULL, layer TEXT NOT NULL,
    norm REAL NOT NULL, rotation REAL NOT NULL, PRIMARY KEY (key, epoch, layer)
);
CREATE TABLE measurements (
    key TEXT NOT NULL REFERENCES runs(key), epoch INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (key, epoch, name)
);
CREATE TABLE studies (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL, started_at REAL NOT NULL);
"""
ROUND_SCHEMA = """
CREATE TABLE IF NOT EXISTS round (unit INTEGER NOT NULL, member INTEGER NOT NULL, key TEXT NOT NULL,
                                  PRIMARY KEY (unit, member));
CREATE TABLE IF NOT EXISTS weights (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
"""
"""Added to a store of any schema version 2 when it is opened for writing (a store from before them has
none): the round being trained, and the SHA-256 of each kept member's weights file (``OUT/weights/KEY.pt``)."""

TABLES = tuple(re.findall(r"CREATE TABLE (\w+)", SCHEMA))
RECOVER = "the runs in it may be recovered with `sqlite3 results.sqlite .recover`; or use another --out"

RUN_COLUMNS = (
    "key",
    "task",
    "method",
    "lr",
    "weight_decay",
    "seed",
    "epochs",
    "schedule",
    "warmup",
    "status",
    "epochs_done",
    "metric",
    "higher_is_better",
    "selected_on",
    "train_loss",
    "val_loss",
    "val_metric",
    "test_loss",
    "test_metric",
    "seconds",
    "finished_at",
)
"""``val_*`` are on the split the best cell is chosen on: ``selected_on`` says which (validation, or test
for a task without a validation split)."""
CONFIG_COLUMNS = ("task", "method", "lr", "weight_decay", "seed", "epochs", "schedule", "warmup")
"""The columns that are a run's configuration as it is (the whole of it is in ``config``, as JSON)."""
INSERT_RUN = (
    f"INSERT OR IGNORE INTO runs ({', '.join(RUN_COLUMNS)}, config) "
    f"VALUES ({', '.join(':' + column for column in RUN_COLUMNS)}, :config)"
)


class ResultStore:
    """The store in ``directory``: created if missing (unless ``read_only``); a file that is not decaylab's is refused.

    ``read_only=True`` opens an existing store without ever writing to it (``export``, ``report``).
    """

    def __init__(self, directory: Path, read_only: bool = False) -> None:
        self.path = Path(directory) / RESULTS_FILE
        if read_only and not self.path.is_file():
            raise UsageError(f"no results in {directory}: {self.path} does not exist")
        try:
            self.db = _connect_read_only(self.path) if read_only else self._connect_for_writing()
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall()) if has_meta else {}
        except sqlite3.OperationalError as error:  # the environment: a full disk, no permission, a lock
            raise RunFailure(f"cannot use {self.path} ({error}); the runs stored so far are kept") from error
        except sqlite3.DatabaseError as error:
            if _is_sqlite(self.path):
                raise RunFailure(f"{self.path} is damaged ({error}): {RECOVER}") from error
            raise UsageError(f"{self.path} is not a readable decaylab results database ({error})") from error
        except OSError as error:
            raise UsageError(f"{self.path} is not a readable decaylab results database ({error})") from error
        if meta.get("application") != APPLICATION:
            raise UsageError(f"{self.path} is not a decaylab results database: use another --out")
        if meta.get("schema_version") not in READABLE_VERSIONS:
            raise UsageError(
                f"{self.path} holds results of an older decaylab (schema {meta.get('schema_version')}, this one "
                f"reads {SCHEMA_VERSION}): use another --out"
            )
        missing = set(TABLES) - _tables(self.db)
        damage = self.db.execute("PRAGMA quick_check").fetchone()[0]
        if missing or damage != "ok":
            found = f"no table {', '.join(sorted(missing))}" if missing else damage
            raise RunFailure(f"{self.path} is damaged ({found}): {RECOVER}")
        if not read_only and meta["schema_version"] != str(SCHEMA_VERSION):
            _admit_unstable(self.db)  # a whole, readable store of version 2
        self.inode = self.path.stat().st_ino
        self.frozen = False

    def _connect_for_writing(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise UsageError(f"{self.path} is read-only: a study must write its runs there; use another --out")
        db = sqlite3.connect(self.path, timeout=30)
        if _half_made(db):  # new, or its creation cut short by a kill or a full disk: (re)made in one transaction
            drop = "".join(f"DROP TABLE IF EXISTS {table};" for table in _tables(db))
            meta = f"INSERT INTO meta VALUES ('application', '{APPLICATION}'), ('schema_version', '{SCHEMA_VERSION}');"
            db.executescript(f"BEGIN; {drop} {SCHEMA} {meta} COMMIT;")
        with db:
            db.executescript(ROUND_SCHEMA)
        db.execute("PRAGMA journal_mode=WAL")  # the driver writes while others read
        return db

    def _still_on_disk(self) -> None:
        """Before a write. If ``results.sqlite`` was deleted while this store was open, write it again from the
        open (unlinked) file, with every run stored so far, and say so: no study ends with its runs in a file no
        one can open. If it or SQLite's files beside it can no longer be written (a read-only remount,
        ``chattr +i``), stop in one line: SQLite would die of SIGBUS growing its shared memory."""
        if self.path.exists():
            frozen = [path.name for path in _files_of(self.path) if path.exists() and not os.access(path, os.W_OK)]
            if frozen:
                self.frozen = True
                raise StoreFrozen(
                    f"{', '.join(frozen)} can no longer be written (a read-only disk?); the runs stored "
                    "so far are kept: make it writable and run the same command again"
                )
            return
        for stale in _files_of(self.path)[1:]:  # the unlinked file's log and shared memory: not the new file's
            stale.unlink(missing_ok=True)
        rewritten = sqlite3.connect(self.path, timeout=30)
        self.db.backup(rewritten)
        self.db.close()
        rewritten.execute("PRAGMA journal_mode=WAL")
        self.db, self.inode = rewritten, self.path.stat().st_ino
        runs = self.db.execute("SELECT count(*) FROM runs").fetchone()[0]
        print(f"decaylab: {self.path} was deleted during the run; written again with its {runs} runs", file=sys.stderr)

    def close(self) -> None:
        if not self.frozen:  # closing would write to shared memory that now raises SIGBUS (StoreFrozen)
            self.db.close()

    def finished_keys(self) -> set[str]:
        return {key for (key,) in self.db.execute("SELECT key FROM runs")}

    def add(self, results: Iterable[RunResult], metric: Metric, selected_on: str) -> None:
        """Store finished runs, all or none; a run already stored is left as it was.

        ``metric`` is the task's selection metric, ``selected_on`` the split of ``val_*``.
        """
        self._still_on_disk()
        now = time.time()
        with self.db:
            for result in results:
                config = result.config
                self.db.execute(INSERT_RUN, run_row(result, metric, selected_on, now))
                self.db.executemany(
                    "INSERT OR IGNORE INTO curves VALUES (?, ?, ?, ?, ?)", [(config.key, *p) for p in result.curves]
                )
                self.db.executemany(
                    "INSERT OR IGNORE INTO layers VALUES (?, ?, ?, ?, ?)", [(config.key, *e) for e in result.layers]
                )
                self.db.executemany(
                    "INSERT OR IGNORE INTO measurements VALUES (?, ?, ?, ?)",
                    [(config.key, *m) for m in result.measurements],
                )

    def begin_round(self, units: Iterable[Sequence[str]]) -> None:
        """Record the units (run keys in member order) of the round of training that starts now."""
        with self.db:
            self.db.execute("DELETE FROM round")
            self.db.executemany(
                "INSERT INTO round VALUES (?, ?, ?)",
                [(unit, member, key) for unit, keys in enumerate(units) for member, key in enumerate(keys)],
            )

    def unfinished_round(self) -> list[list[str]]:
        """The units of the last round begun that are not stored yet (none once it is finished)."""
        rows = self.db.execute(
            "SELECT unit, key FROM round WHERE key NOT IN (SELECT key FROM runs) ORDER BY unit, member"
        )
        units: dict[int, list[str]] = {}
        for unit, key in rows:
            units.setdefault(unit, []).append(key)
        return list(units.values())

    def record_study(self, spec: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT INTO studies (spec, started_at) VALUES (?, ?)", (json.dumps(spec), time.time()))

    def latest_study(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT spec FROM studies ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def record_weights(self, hashes: dict[str, str]) -> None:
        """The SHA-256 of each kept run's weights file, by run key."""
        self._still_on_disk()
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO weights VALUES (?, ?)", hashes.items())

    def weights_hashes(self) -> dict[str, str]:
        """Run key → the SHA-256 its weights file had when it was kept (empty in a store from before them)."""
        has_table = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'weights'").fetchone()
        return dict(self.db.execute("SELECT key, sha256 FROM weights").fetchall()) if has_table else {}

    def runs(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored runs as dicts (columns of ``runs``), all or those with the given keys."""
        rows = self.db.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY method, lr, weight_decay, seed")
        wanted = set(keys) if keys is not None else None
        return [dict(zip(RUN_COLUMNS, row, strict=True)) for row in rows if wanted is None or row[0] in wanted]

    def configs(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Each run's full configuration (its ``RunConfig`` as a dict), by key."""
        wanted = set(keys) if keys is not None else None
        return {
            key: json.loads(config)
            for key, config in self.db.execute("SELECT key, config FROM runs")
            if wanted is None or key in wanted
        }

    def curves(self, key: str) -> list[tuple[int, float, float, float]]:
        """``(epoch, train_loss, val_loss, val_metric)`` of a run."""
        return self.db.execute(
            "SELECT epoch, train_loss, val_loss, val_metric FROM curves WHERE key = ? ORDER BY epoch", (key,)
        ).fetchall()

    def layers(self, key: str) -> list[tuple[int, str, float, float]]:
        """``(epoch, layer, norm, rotation)`` of a run's BatchNorm-fed weights."""
        return self.db.execute(
            "SELECT epoch, layer, norm, rotation FROM layers WHERE key = ? ORDER BY layer, epoch", (key,)
        ).fetchall()

    def measurements(self, key: str, name: str) -> list[tuple[int, float]]:
        """``(epoch, value)`` of a run's probe ``name``."""
        return self.db.execute(
            "SELECT epoch, value FROM measurements WHERE key = ? AND name = ? ORDER BY epoch", (key, name)
        ).fetchall()


def _files_of(path: Path) -> list[Path]:
    """The database and the write-ahead log and shared memory SQLite keeps beside it."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(16) == b"SQLite format 3\x00"


def _tables(db: sqlite3.Connection) -> set[str]:
    """The tables of ``db``, SQLite's own left out."""
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}


def _admit_unstable(db: sqlite3.Connection) -> None:
    """Migrate a version-2 store to version 3: its status check admits ``unstable``. Only the table's declared
    CHECK changes, which SQLite's documented ``writable_schema`` procedure does without rewriting a row."""
    old, new = "CHECK (status IN ('done', 'diverged'))", "CHECK (status IN ('done', 'unstable', 'diverged'))"
    schema = db.execute("PRAGMA schema_version").fetchone()[0]
    with db:
        db.execute("PRAGMA writable_schema = ON")
        db.execute(
            "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'runs'", (old, new)
        )
        db.execute(f"PRAGMA schema_version = {schema + 1}")
        db.execute("PRAGMA writable_schema = OFF")
        db.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION),))
    db.execute("PRAGMA integrity_check").fetchone()


def _half_made(db: sqlite3.Connection) -> bool:
    """Whether ``db`` is empty, or holds some of decaylab's tables, all empty, and no meta rows: a store whose
    creation did not finish. Anything else (another program's tables, any row) is left alone."""
    tables = _tables(db)
    if not tables <= {*TABLES, "round"}:
        return False
    return all(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0 for table in tables)


def run_row(result: RunResult, metric: Metric, selected_on: str, finished_at: float) -> dict[str, object]:
    """A finished run as a row of ``runs``, by column name."""
    config = result.config
    train_loss, val_loss, val_metric = result.final
    test_loss, test_metric = result.test or (math.nan, math.nan)
    losses = {
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_metric": val_metric,
        "test_loss": test_loss,
        "test_metric": test_metric,
    }
    return {
        **{name: getattr(config, name) for name in CONFIG_COLUMNS},
        **{name: _nullable(value) for name, value in losses.items()},
        "key": config.key,
        "status": result.status,
        "epochs_done": len(result.curves),
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "selected_on": selected_on,
        "seconds": result.seconds,
        "finished_at": finished_at,
        "config": json.dumps(asdict(config)),
    }


def remove_if_empty(directory: Path) -> None:
    """Delete ``directory``'s store if it holds no run: what a refused run made, it takes away."""
    path = Path(directory) / RESULTS_FILE
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            empty = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    except sqlite3.Error:  # not a store this run made whole: left as it is
        return
    if empty:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open without writing anything, even where the directory is read-only.

    ``mode=ro`` reads alongside a running study; where SQLite cannot create its WAL index
    (a read-only directory, so no study can be writing), the file is read as immutable.
    """
    for options in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{options}", uri=True, timeout=30)
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
    raise sqlite3.OperationalError(f"cannot open {path} for reading")


def _nullable(value: float) -> float | None:
    return None if value != value else value  # NaN → NULL
