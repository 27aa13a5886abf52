"""Stored runs gathered into heatmap cells: one per (method, λ, α), aggregated over seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cell:
    """The runs of one grid point over seeds."""

    method: str
    lr: float
    weight_decay: float
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def diverged(self) -> bool:
        return any(run["status"] == "diverged" for run in self.runs)

    def values(self, column: str) -> list[float]:
        return [run[column] for run in self.runs if run["status"] == "done" and run[column] is not None]

    def mean(self, column: str) -> float:
        values = self.values(column)
        return statistics.fmean(values) if values and not self.diverged else math.nan

    def spread(self, column: str) -> float:
        values = self.values(column)
        return statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass
class MethodGrid:
    """A method's cells on its own ``λ`` axis and the study's ``α`` axis."""

    method: str
    lrs: list[float]
    weight_decays: list[float]
    cells: dict[tuple[float, float], Cell]

    def cell(self, weight_decay: float, lr: float) -> Cell:
        return self.cells.get((weight_decay, lr), Cell(self.method, lr, weight_decay))

    def best(self) -> Cell | None:
        """The cell with the highest mean test accuracy (ties: the lower test loss)."""
        scored = [c for c in self.cells.values() if math.isfinite(c.mean("test_acc"))]
        return max(scored, key=lambda c: (c.mean("test_acc"), -c.mean("test_loss")), default=None)


def method_grids(runs: Iterable[dict[str, Any]], methods: Iterable[str]) -> list[MethodGrid]:
    """One grid per method (in the given order) from stored run rows."""
    by_method: dict[str, dict[tuple[float, float], Cell]] = {method: {} for method in methods}
    for run in runs:
        if run["method"] in by_method:
            key = (run["weight_decay"], run["lr"])
            by_method[run["method"]].setdefault(key, Cell(run["method"], run["lr"], run["weight_decay"])).runs.append(
                run
            )
    return [
        MethodGrid(
            method,
            sorted({lr for _, lr in cells}),
            sorted({decay for decay, _ in cells}),
            cells,
        )
        for method, cells in by_method.items()
    ]
