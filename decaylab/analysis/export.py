"""Stored runs as rows: what ``decaylab export`` prints and :func:`decaylab.study` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from decaylab.lab.store import ResultStore

EXPORT_COLUMNS = (
    "method",
    "lr",
    "weight_decay",
    "seed",
    "status",
    "metric",
    "val_metric",
    "test_metric",
    "val_loss",
    "test_loss",
    "train_loss",
    "epochs",
    "epochs_done",
    "schedule",
    "warmup",
    "selected_on",
    "task",
    "key",
)
"""``val_*`` are measured on the split the best cell is chosen on (``selected_on``)."""
SETTINGS = ("batch_size", "betas", "eps", "momentum", "clip", "loss_scale", "probes")
"""The rest of a run's configuration, from its stored ``RunConfig``."""
CURVE_COLUMNS = ("method", "lr", "weight_decay", "seed", "key", "epoch", "train_loss", "val_loss", "val_metric")


def export_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per stored run (those with ``keys``, or all), with ``test_acc`` where the metric is accuracy."""
    runs = store.runs(keys)
    classification = any(run["metric"] == "accuracy" for run in runs)
    configs = store.configs(keys)
    rows = []
    for run in runs:
        row = {column: run[column] for column in EXPORT_COLUMNS}
        if classification:
            row["test_acc"] = run["test_metric"] if run["metric"] == "accuracy" else None
        config = configs[run["key"]]
        row.update({name: _plain(config.get(name)) for name in SETTINGS})
        rows.append(row)
    return rows


def _plain(value: object) -> object:
    """A setting as one CSV cell: lists (betas, probes) joined by spaces, empty lists empty."""
    return " ".join(str(v) for v in value) if isinstance(value, list) else value


def curve_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per epoch of each stored run: its training loss and its held-out loss and metric."""
    rows = []
    for run in store.runs(keys):
        for epoch, train_loss, val_loss, val_metric in store.curves(run["key"]):
            rows.append(
                {
                    **{c: run[c] for c in CURVE_COLUMNS[:5]},
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "val_metric": val_metric,
                }
            )
    return rows
