"""Cautious weight decay against plain decay (issue 17, claim 3), for AdamW and for Muon.

Chen et al. (2025, "Cautious Weight Decay", arXiv 2510.12402) decay only the coordinates where the update and
the weight point the same way, ``a ← 1 − (1 − a)·𝟙[u ⊙ w ≥ 0]``, and report better results than decaying
every coordinate. Each method's best cell on the charlm grid (:mod:`decaylab.claims.todays`), chosen on
validation, compared with the plain rule's on the test metric, seed by seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims import todays
from decaylab.claims.base import Lab, Verdict, not_measured
from decaylab.claims.statistics import at_an_edge, better
from decaylab.lab.runs import RunConfig

PAIRS = {"adamw": "adamw-cautious", "muonw": "muonw-cautious"}
"""Each plain rule and its cautious form (both paper-form decay)."""
FIGURE = "cautious.png"


@dataclass(frozen=True)
class Measured:
    grids: dict[str, MethodGrid]


class CautiousDecay:
    name = "cautious"
    title = "Cautious weight decay against plain decay, for AdamW and Muon"
    source = "Chen et al. 2025 (arXiv 2510.12402)"
    procedure = (
        f"{todays.described(tuple(PAIRS))}; each cautious rule over the same λ at its plain rule's best α. Each "
        "rule's best cell on validation (mean over seeds); the cautious rule's against the plain rule's on the test "
        "metric, seed by seed."
    )
    position = 112

    def runs(self, lab: Lab) -> list[RunConfig]:
        """The plain rules' grids, then each cautious rule's λ column at its plain rule's best α."""
        plain = [run for method in PAIRS for run in todays.grid(lab, method)]
        if not lab.stored(plain):
            return plain
        grids = lab.grids(plain)
        best = {method: grids[method].best() for method in PAIRS}
        cautious = [todays.grid(lab, PAIRS[m], (cell.lr,)) for m, cell in best.items() if cell is not None]
        return plain + [run for runs in cautious for run in runs]

    def measure(self, lab: Lab) -> Measured:
        return Measured(lab.grids(self.runs(lab)))

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for plain, cautious in PAIRS.items():
            claim = f"{cautious} beats {plain} (best cells, test metric)"
            grids = (measured.grids.get(cautious), measured.grids.get(plain))
            best = [grid.best() if grid else None for grid in grids]
            if grids[0] is None or grids[1] is None or best[0] is None or best[1] is None:
                verdicts.append(not_measured(claim, "a method has no finished cell"))
                continue
            edge = at_an_edge(claim, (best[0], grids[0]), (best[1], grids[1]))
            verdicts.append(edge or better(claim, best[0], best[1], grids[1]))
        return verdicts, []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = f"charlm ({todays.EXAMPLES:,} sequences, batches of {todays.BATCH}): plain and cautious decay"
        draw_heatmaps(list(measured.grids.values()), figures / FIGURE, title)
        return [FIGURE]


CLAIM = CautiousDecay()
