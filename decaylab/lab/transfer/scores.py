"""A λ* search's points as stored runs: what :func:`~decaylab.lab.transfer.search.replay` reads, for
``decaylab transfer`` and the claims alike."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from decaylab.lab.runs import RunConfig
from decaylab.optim import METHODS


def prior_of(method: str) -> float:
    """The centre of the method's default λ grid (log10): the first bracket's centre."""
    decays = [math.log10(d) for d in METHODS[method].default_weight_decays if d > 0]
    return (min(decays) + max(decays)) / 2


def stored(
    rows: Mapping[str, Mapping[str, Any]], runs: Callable[[float], list[RunConfig]], sign: float
) -> Callable[[float], dict[int, float] | None]:
    """What :func:`~decaylab.lab.transfer.search.replay` reads: a point's scores from the stored ``rows``."""
    return lambda log_lambda: point_scores(rows, runs(log_lambda), sign)


def point_scores(
    rows: Mapping[str, Mapping[str, Any]], runs: Sequence[RunConfig], sign: float
) -> dict[int, float] | None:
    """A point's validation score per seed (``sign``: +1 if higher is better; NaN where a run diverged), or None
    until all its runs are stored."""
    if not all(run.key in rows for run in runs):
        return None
    return {run.seed: score(rows[run.key], "val_metric", sign) for run in runs}


def test_metrics(rows: Mapping[str, Mapping[str, Any]], runs: Sequence[RunConfig]) -> dict[int, float]:
    """A stored point's test metric per seed, as measured (NaN where a run diverged)."""
    return {run.seed: score(rows[run.key], "test_metric", 1.0) for run in runs}


def score(row: Mapping[str, Any], column: str, sign: float) -> float:
    done = row["status"] == "done" and row[column] is not None
    return sign * row[column] if done else math.nan
