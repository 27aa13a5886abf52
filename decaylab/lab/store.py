"""The results store: SQLite at ``OUT/results.sqlite``, one writer, runs keyed by configuration.

Tables: ``runs`` (one row per finished run, ``done`` or ``diverged``), ``curves`` (per-epoch
metrics), ``layers`` (per-epoch norm and rotation of BatchNorm-fed weights), ``studies``
(each study's specification, so a report can be redrawn), ``meta`` (marks the file as
decaylab's). A unit's runs are written in one transaction, so a study
killed at any moment loses at most the units in flight and never stores a run twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from decaylab.lab.errors import UsageError
from decaylab.lab.train import RunResult

APPLICATION = "decaylab"
SCHEMA_VERSION = 1
RESULTS_FILE = "results.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, task TEXT NOT NULL, method TEXT NOT NULL, lr REAL NOT NULL,
    weight_decay REAL NOT NULL, seed INTEGER NOT NULL, epochs INTEGER NOT NULL, schedule TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'diverged')), epochs_done INTEGER NOT NULL,
    train_loss REAL, test_loss REAL, test_acc REAL, seconds REAL NOT NULL, finished_at REAL NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS curves (
    key TEXT NOT NULL REFERENCES runs(key), epoch INTEGER NOT NULL,
    train_loss REAL NOT NULL, test_loss REAL NOT NULL, test_acc REAL NOT NULL, PRIMARY KEY (key, epoch)
);
CREATE TABLE IF NOT EXISTS layers (
    key TEXT NOT NULL REFERENCES runs(key), epoch INTEGER NOT NULL, layer TEXT NOT NULL,
    norm REAL NOT NULL, rotation REAL NOT NULL, PRIMARY KEY (key, epoch, layer)
);
CREATE TABLE IF NOT EXISTS studies (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL, started_at REAL NOT NULL);
"""

RUN_COLUMNS = (
    "key", "task", "method", "lr", "weight_decay", "seed", "epochs", "schedule", "status",
    "epochs_done", "train_loss", "test_loss", "test_acc", "seconds", "finished_at",
)  # fmt: skip


class ResultStore:
    """Open (or create) the store in ``directory``; a file that is not decaylab's is refused."""

    def __init__(self, directory: Path, create: bool = True) -> None:
        self.path = Path(directory) / RESULTS_FILE
        if not self.path.exists() and not create:
            raise UsageError(f"no results in {directory}: {self.path} does not exist")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            self.db = sqlite3.connect(self.path, timeout=30)
            if fresh:
                with self.db:
                    self.db.executescript(SCHEMA)
                    self.db.executemany(
                        "INSERT INTO meta VALUES (?, ?)",
                        [("application", APPLICATION), ("schema_version", str(SCHEMA_VERSION))],
                    )
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
            meta = dict(self.db.execute("SELECT name, value FROM meta").fetchall()) if has_meta else {}
            self.db.execute("PRAGMA journal_mode=WAL")  # the driver writes while others read
        except (sqlite3.DatabaseError, OSError) as error:
            raise UsageError(f"{self.path} is not a readable decaylab results database ({error})") from error
        if meta.get("application") != APPLICATION:
            raise UsageError(f"{self.path} is not a decaylab results database: use another --out")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise UsageError(
                f"{self.path} has schema {meta.get('schema_version')}, this decaylab reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self.db.close()

    def finished_keys(self) -> set[str]:
        return {key for (key,) in self.db.execute("SELECT key FROM runs")}

    def add(self, results: Iterable[RunResult]) -> None:
        """Store finished runs, all or none; a run already stored is left as it was."""
        now = time.time()
        with self.db:
            for result in results:
                config = result.config
                train_loss, test_loss, test_acc = result.final
                self.db.execute(
                    f"INSERT OR IGNORE INTO runs ({', '.join(RUN_COLUMNS)}, config) "
                    f"VALUES ({', '.join('?' * (len(RUN_COLUMNS) + 1))})",
                    (
                        config.key, config.task, config.method, config.lr, config.weight_decay, config.seed,
                        config.epochs, config.schedule, result.status, len(result.curves),
                        _nullable(train_loss), _nullable(test_loss), _nullable(test_acc), result.seconds, now,
                        json.dumps(asdict(config)),
                    ),
                )  # fmt: skip
                self.db.executemany(
                    "INSERT OR IGNORE INTO curves VALUES (?, ?, ?, ?, ?)",
                    [(config.key, *point) for point in result.curves],
                )
                self.db.executemany(
                    "INSERT OR IGNORE INTO layers VALUES (?, ?, ?, ?, ?)",
                    [(config.key, *entry) for entry in result.layers],
                )

    def record_study(self, spec: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT INTO studies (spec, started_at) VALUES (?, ?)", (json.dumps(spec), time.time()))

    def latest_study(self) -> dict[str, Any] | None:
        row = self.db.execute("SELECT spec FROM studies ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def runs(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored runs as dicts (columns of ``runs``), all or those with the given keys."""
        rows = self.db.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY method, lr, weight_decay, seed")
        wanted = set(keys) if keys is not None else None
        return [dict(zip(RUN_COLUMNS, row, strict=True)) for row in rows if wanted is None or row[0] in wanted]

    def curves(self, key: str) -> list[tuple[int, float, float, float]]:
        return self.db.execute(
            "SELECT epoch, train_loss, test_loss, test_acc FROM curves WHERE key = ? ORDER BY epoch", (key,)
        ).fetchall()

    def layers(self, key: str) -> list[tuple[int, str, float, float]]:
        """``(epoch, layer, norm, rotation)`` of a run's BatchNorm-fed weights."""
        return self.db.execute(
            "SELECT epoch, layer, norm, rotation FROM layers WHERE key = ? ORDER BY layer, epoch", (key,)
        ).fetchall()


def _nullable(value: float) -> float | None:
    return None if value != value else value  # NaN → NULL
