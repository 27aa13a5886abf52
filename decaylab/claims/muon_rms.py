"""Liu et al.'s transfer (issue 17, claim 2): Muon with its RMS matched to AdamW's reuses AdamW's α and λ.

Liu et al. (2025, "Muon is Scalable for LLM Training") scale each matrix's Muon step by ``0.2·√max(A, B)``
(``adjust_lr_fn="match_rms_adamw"``), so its RMS is AdamW's, and report that AdamW's tuned learning rate and
weight decay then serve Muon as they are. Measured on the same charlm grid for both (:mod:`decaylab.claims
.todays`): where each method's best cell lies, in grid steps, and how Muon does at AdamW's best cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import Cell, MethodGrid
from decaylab.analysis.figures import draw_heatmaps
from decaylab.claims import todays
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Verdict, not_measured
from decaylab.claims.statistics import at_an_edge, on_par
from decaylab.lab.runs import RunConfig

METHODS_COMPARED = ("adamw", "muonw")
FIGURE = "muon-rms.png"
TRANSFER = "Muon (match_rms_adamw): its best (α, λ) is within one grid step of AdamW's"
REUSED = "Muon at AdamW's best (α, λ) is on par with Muon's own best cell"


@dataclass(frozen=True)
class Measured:
    grids: dict[str, MethodGrid]
    at_adamws: Cell | None
    """Muon trained at AdamW's best cell."""


def transfer_verdict(adamw: Cell, muon: Cell, adamw_grid: MethodGrid, muon_grid: MethodGrid) -> Verdict:
    """Holds within one lattice step on both axes; does not hold three or more steps apart on either."""
    floor = min(d for d in (*adamw_grid.weight_decays, *muon_grid.weight_decays) if d > 0)
    along_lr = todays.steps_apart(adamw.lr, muon.lr, min(adamw_grid.lrs + muon_grid.lrs))
    along_decay = todays.steps_apart(adamw.weight_decay, muon.weight_decay, floor)
    statistic = (
        f"AdamW's best α = {adamw.lr:g}, λ = {adamw.weight_decay:g}; Muon's α = {muon.lr:g}, "
        f"λ = {muon.weight_decay:g}: {along_lr} step(s) apart along α, {along_decay} along λ"
    )
    worst = max(along_lr, along_decay)
    verdict = HOLDS if worst <= 1 else FAILS if worst >= 3 else INCONCLUSIVE
    return Verdict(TRANSFER, statistic, verdict, "holds within one step on both axes; does not hold 3 or more apart")


class MuonRms:
    name = "muon-rms"
    title = "Muon with AdamW's RMS reuses AdamW's α and λ"
    source = "Liu et al. 2025 (arXiv 2502.16982)"
    procedure = (
        f"{todays.described(METHODS_COMPARED)}. Each method's best cell on validation (mean over seeds): are they "
        "within one half-decade step of each other on each axis? And Muon trained at AdamW's best cell, against "
        "Muon's own best, on the test metric, seed by seed."
    )
    position = 111

    def grid_runs(self, lab: Lab) -> list[RunConfig]:
        return [run for method in METHODS_COMPARED for run in todays.grid(lab, method)]

    def reuse_runs(self, lab: Lab, adamw: Cell) -> list[RunConfig]:
        """Muon at AdamW's best cell, over the seeds (a cell of Muon's grid, or one beside it)."""
        return lab.grid(todays.role(lab), "muonw", [adamw.lr], [adamw.weight_decay], **todays.settings(lab))

    def runs(self, lab: Lab) -> list[RunConfig]:
        grids = self.grid_runs(lab)
        adamw = lab.grids(grids)["adamw"].best() if lab.stored(grids) else None
        return grids if adamw is None else grids + self.reuse_runs(lab, adamw)

    def measure(self, lab: Lab) -> Measured:
        grids = lab.grids(self.grid_runs(lab))
        adamw = grids["adamw"].best()
        reused = lab.grids(self.reuse_runs(lab, adamw))["muonw"] if adamw is not None else None
        return Measured(grids, reused.cell(adamw.weight_decay, adamw.lr) if reused and adamw else None)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        adamw_grid, muon_grid = (measured.grids.get(method) for method in METHODS_COMPARED)
        adamw = adamw_grid.best() if adamw_grid else None
        muon = muon_grid.best() if muon_grid else None
        if adamw is None or muon is None or muon_grid is None or adamw_grid is None:
            return [not_measured(claim, "a method has no finished cell") for claim in (TRANSFER, REUSED)], []
        placed = ((adamw, adamw_grid), (muon, muon_grid))
        transfer = at_an_edge(TRANSFER, *placed) or transfer_verdict(adamw, muon, adamw_grid, muon_grid)
        at_adamws = measured.at_adamws
        if at_adamws is None or math.isnan(at_adamws.mean()):
            return [transfer, not_measured(REUSED, "Muon diverged at AdamW's best cell")], []
        return [transfer, at_an_edge(REUSED, *placed) or on_par(REUSED, at_adamws, muon, muon_grid)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = f"charlm ({todays.EXAMPLES:,} sequences, batches of {todays.BATCH}): AdamW and Muon (match_rms_adamw)"
        draw_heatmaps(list(measured.grids.values()), figures / FIGURE, title)
        return [FIGURE]


CLAIM = MuonRms()
