"""Stored runs as rows: what ``decaylab export`` prints and :func:`decaylab.study` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from decaylab.lab.runs import LATER_FIELDS
from decaylab.lab.store import ResultStore
from decaylab.optim import METHODS

EXPORT_COLUMNS = (
    "method",
    "lr",
    "weight_decay",
    "seed",
    "status",
    "weight_decay_units",
    "metric",
    "higher_is_better",
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
"""``val_*`` are measured on the split the best cell is chosen on (``selected_on``); ``weight_decay_units`` says
what each row's λ is (:data:`decaylab.optim.rules.UNITS`: ``paper``, ``torch``, ``penalty``, ``l1``, ``none``)."""
SETTINGS = ("batch_size", "betas", "eps", "momentum", "clip", "loss_scale", "probes", *LATER_FIELDS)
"""The rest of a run's configuration, from its stored ``RunConfig`` (a field it predates at its default)."""
RUN_OF_A_CURVE = (
    "task",
    "method",
    "lr",
    "weight_decay",
    "weight_decay_units",
    "seed",
    "status",
    "metric",
    "higher_is_better",
    "selected_on",
    "key",
)
"""What each epoch's row says of its run, so that the curves need no join with the runs."""
CURVE_COLUMNS = (*RUN_OF_A_CURVE, "epoch", "train_loss", "val_loss", "val_metric")


def export_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per stored run (those with ``keys``, or all), with ``test_acc`` where the metric is accuracy."""
    runs = store.runs(keys)
    classification = any(run["metric"] == "accuracy" for run in runs)
    configs = store.configs(keys)
    rows = []
    for run in with_units(runs):
        row = {column: run[column] for column in EXPORT_COLUMNS}
        if classification:
            row["test_acc"] = run["test_metric"] if run["metric"] == "accuracy" else None
        config = configs[run["key"]]
        row.update({name: _plain(config.get(name, LATER_FIELDS.get(name))) for name in SETTINGS})
        rows.append(row)
    return rows


def _plain(value: object) -> object:
    """A setting as one CSV cell: lists (betas, probes) joined by spaces, empty lists empty."""
    return " ".join(str(v) for v in value) if isinstance(value, list) else value


def curve_rows(store: ResultStore, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One row per epoch of each stored run: its training loss and its held-out loss and metric."""
    rows = []
    for run in with_units(store.runs(keys)):
        for epoch, train_loss, val_loss, val_metric in store.curves(run["key"]):
            losses = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_metric": val_metric}
            rows.append({**{column: run[column] for column in RUN_OF_A_CURVE}, **losses})
    return rows


def with_units(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored runs with what their λ is, from their method's record, and their metric's direction as a bool."""
    return [
        {
            **run,
            "weight_decay_units": METHODS[run["method"]].units if run["method"] in METHODS else None,
            "higher_is_better": bool(run["higher_is_better"]),
        }
        for run in runs
    ]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP's CSV injection list)."""


def spreadsheet_safe(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` for a CSV file: a text cell that a spreadsheet would run as a formula (a task or metric named
    ``=HYPERLINK(…)``) gets a leading ``'``, as OWASP recommends; numbers stay numbers (−0.5 is not text)."""
    return {
        column: f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
        for column, value in row.items()
    }
