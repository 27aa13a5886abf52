"""The practitioners' questions (issue 25) as claims: a practice against the usual one, on the charlm grids.

Each claim takes a method's charlm grid (:mod:`decaylab.claims.todays`, shared with the other claims on today's
optimizers), its best cell's α, and trains the λ column there once more under each variant practice
(:class:`~decaylab.lab.practice.Practice`: which parameters λ reaches, λ's own schedule, Muon's Adam half). Each
variant's best cell is compared with the usual practice's best cell on the test metric, seed by seed: on par or
not (:func:`~decaylab.claims.statistics.on_par`), never from a best cell at the edge of its grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims import todays
from decaylab.claims.base import Lab, Verdict, not_measured
from decaylab.claims.statistics import at_an_edge, on_par
from decaylab.lab.runs import RunConfig


@dataclass(frozen=True)
class Variant:
    """A practice to compare with the usual one: its label, its RunConfig overrides, and the claim about it."""

    label: str
    practice: dict[str, Any]
    statement: str


@dataclass(frozen=True)
class Measured:
    usual: MethodGrid | None
    variants: dict[str, MethodGrid]


class PracticeComparison:
    """One method's usual practice against ``variants``, each on par or not (module docstring)."""

    def __init__(self, name: str, title: str, source: str, method: str, variants: tuple[Variant, ...], position: int):
        self.name, self.title, self.source, self.position = name, title, source, position
        self.method, self.variants = method, variants
        practices = "; ".join(f"{v.label}: {', '.join(f'{k}={w}' for k, w in v.practice.items())}" for v in variants)
        self.procedure = (
            f"{todays.described((method,))}. At the grid's best α, the λ column again under each practice "
            f"({practices}). Each best cell chosen on validation (mean over seeds); the practice's against the usual "
            "one's on the test metric, seed by seed."
        )

    def runs(self, lab: Lab) -> list[RunConfig]:
        """The method's grid, then each variant's λ column at the grid's best α."""
        usual = todays.grid(lab, self.method)
        best = lab.grids(usual)[self.method].best() if lab.stored(usual) else None
        if best is None:
            return usual
        return usual + [run for v in self.variants for run in todays.grid(lab, self.method, (best.lr,), **v.practice)]

    def measure(self, lab: Lab) -> Measured:
        usual_runs = todays.grid(lab, self.method)
        usual = lab.grids(usual_runs)[self.method] if lab.stored(usual_runs) else None
        best = usual.best() if usual else None
        if best is None:
            return Measured(usual, {})
        variants = {}
        for variant in self.variants:
            runs = todays.grid(lab, self.method, (best.lr,), **variant.practice)
            if lab.stored(runs):
                labelled = f"{self.method}, {variant.label}"
                variants[variant.label] = replace(lab.grids(runs)[self.method], method=labelled)
        return Measured(usual, variants)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for variant in self.variants:
            claim = f"{variant.statement} (best cells, test)"
            grid = measured.variants.get(variant.label)
            pair = (grid.best() if grid else None, measured.usual.best() if measured.usual else None)
            if grid is None or measured.usual is None or pair[0] is None or pair[1] is None:
                verdicts.append(not_measured(claim, "a practice has no finished cell"))
                continue
            edge = at_an_edge(claim, (pair[0], grid), (pair[1], measured.usual))
            verdicts.append(edge or on_par(claim, pair[0], pair[1], measured.usual))
        return verdicts, []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        if measured.usual is None:
            return []
        figure = f"{self.name}.png"
        title = f"charlm ({todays.EXAMPLES:,} sequences, batches of {todays.BATCH}): {self.title}"
        draw_heatmaps([measured.usual, *measured.variants.values()], figures / figure, title)
        return [figure]
