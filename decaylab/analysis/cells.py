"""Stored runs gathered into heatmap cells: one per (method, λ, α), aggregated over seeds.

Cells are compared on the task's selection metric measured on the held-out split
(``val_metric``: the validation split, or the test split for a task without one); the test
metric is what is reported for the chosen cell.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SELECTION = "val_metric"


@dataclass(frozen=True)
class MetricScale:
    """A task's metric as the analysis shows it: its name, direction, and units (accuracy in %)."""

    name: str
    higher_is_better: bool
    selected_on: str = "validation"

    @property
    def percent(self) -> bool:
        return self.name == "accuracy"

    def shown(self, value: float) -> float:
        """The value in display units (accuracy as a percentage)."""
        return 100 * value if self.percent else value

    def format(self, value: float, spread: float = math.nan) -> str:
        if not math.isfinite(value):
            return "—"
        text = f"{self.shown(value):.2f}" if self.percent else f"{value:.4g}"
        if math.isfinite(spread):
            text += f" ± {self.shown(spread):.2f}" if self.percent else f" ± {spread:.2g}"
        return text + ("%" if self.percent else "")

    @property
    def label(self) -> str:
        return f"{self.selected_on} {self.name}" + (" (%)" if self.percent else "")

    def key(self, value: float) -> float:
        """A sort key where larger is better."""
        return value if self.higher_is_better else -value

    @classmethod
    def of(cls, runs: Iterable[dict[str, Any]]) -> MetricScale:
        """The scale the stored runs were measured on (accuracy when there are none)."""
        for run in runs:
            return cls(run["metric"], bool(run["higher_is_better"]), run["selected_on"])
        return cls("accuracy", True)


@dataclass
class Cell:
    """The runs of one grid point over seeds."""

    method: str
    lr: float
    weight_decay: float
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``diverged`` if any seed's run diverged, else ``unstable`` if any was, else ``done``."""
        statuses = {run["status"] for run in self.runs}
        return next((status for status in ("diverged", "unstable") if status in statuses), "done")

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def failed(self) -> bool:
        """Diverged or unstable: the cell has no score."""
        return self.status != "done"

    def values(self, column: str) -> list[float]:
        return [run[column] for run in self.runs if run["status"] == "done" and run[column] is not None]

    def mean(self, column: str = SELECTION) -> float:
        values = self.values(column)
        return statistics.fmean(values) if values and not self.failed else math.nan

    def spread(self, column: str = SELECTION) -> float:
        values = self.values(column)
        return statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass
class MethodGrid:
    """A method's cells on its own ``λ`` axis and its ``α`` axis."""

    method: str
    lrs: list[float]
    weight_decays: list[float]
    cells: dict[tuple[float, float], Cell]
    scale: MetricScale

    def cell(self, weight_decay: float, lr: float) -> Cell:
        return self.cells.get((weight_decay, lr), Cell(self.method, lr, weight_decay))

    def best(self, cells: Iterable[Cell] | None = None) -> Cell | None:
        """The cell with the best mean selection metric (ties: the lower held-out loss)."""
        scored = [c for c in (self.cells.values() if cells is None else cells) if math.isfinite(c.mean())]
        return max(scored, key=lambda c: (self.scale.key(c.mean()), -c.mean("val_loss")), default=None)

    def edges_of(self, cell: Cell) -> list[str]:
        """The axes on which ``cell`` lies at this grid's edge, in words (``"α = 0.1"``): a best cell there
        might be beaten just outside the grid. λ = 0 is no edge (nothing lies below it), and an axis of one
        value is no axis."""
        decays = sorted(self.weight_decays)
        lowest_decay = decays[0] if decays[0] > 0 else None
        edges = []
        if len(self.lrs) > 1 and cell.lr in (min(self.lrs), max(self.lrs)):
            edges.append(f"α = {cell.lr:g}")
        if len(decays) > 1 and cell.weight_decay in (decays[-1], lowest_decay):
            edges.append(f"λ = {cell.weight_decay:g}")
        return edges

    def best_at(self, lr: float) -> Cell | None:
        """The best cell of the learning-rate column ``lr``."""
        return self.best(self.cell(decay, lr) for decay in self.weight_decays)


def method_grids(runs: Iterable[dict[str, Any]], methods: Iterable[str]) -> list[MethodGrid]:
    """One grid per method (in the given order) from stored run rows."""
    runs = list(runs)
    scale = MetricScale.of(runs)
    by_method: dict[str, dict[tuple[float, float], Cell]] = {method: {} for method in methods}
    for run in runs:
        if run["method"] in by_method:
            cell = by_method[run["method"]].setdefault(
                (run["weight_decay"], run["lr"]), Cell(run["method"], run["lr"], run["weight_decay"])
            )
            cell.runs.append(run)
    return [
        MethodGrid(method, sorted({lr for _, lr in cells}), sorted({decay for decay, _ in cells}), cells, scale)
        for method, cells in by_method.items()
    ]
