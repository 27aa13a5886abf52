"""Stored runs as rows: what ``decaylab export`` prints and :func:`decaylab.study` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from decaylab.lab.store import ResultStore

RUN_COLUMNS = (
    "method", "lr", "weight_decay", "seed", "status", "metric", "val_metric", "test_metric", "val_loss",
    "test_loss", "train_loss", "epochs", "epochs_done", "schedule", "warmup", "selected_on", "task", "key",
)  # fmt: skip
"""``val_*`` are measured on the split the best cell is chosen on (``selected_on``)."""
CURVE_COLUMNS = ("method", "lr", "weight_decay", "seed", "key", "epoch", "train_loss", "val_loss", "val_metric")


def export_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per stored run (those with ``keys``, or all), with ``test_acc`` where the metric is accuracy."""
    runs = store.runs(keys)
    classification = any(run["metric"] == "accuracy" for run in runs)
    rows = []
    for run in runs:
        row = {column: run[column] for column in RUN_COLUMNS}
        if classification:
            row["test_acc"] = run["test_metric"] if run["metric"] == "accuracy" else None
        rows.append(row)
    return rows


def curve_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per epoch of each stored run: its training loss and its held-out loss and metric."""
    rows = []
    for run in store.runs(keys):
        for epoch, train_loss, val_loss, val_metric in store.curves(run["key"]):
            rows.append({**{c: run[c] for c in CURVE_COLUMNS[:5]}, "epoch": epoch, "train_loss": train_loss,
                         "val_loss": val_loss, "val_metric": val_metric})  # fmt: skip
    return rows
