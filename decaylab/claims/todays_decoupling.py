"""Decoupling under Muon and Lion (issue 17, claim 1): the post's Fig. 1 for today's optimizers.

Both carry a decoupled decay; the post's argument says its paper form ``1 − η_t·λ`` keeps the best λ put as α
changes, and the torch form ``1 − lr_t·λ`` (``torch.optim.Muon``; Lion's Algorithm 2) makes it fall as ``1/α``.
Per method, λ* at each good learning-rate column of a charlm grid, seed by seed (:mod:`decaylab.claims.todays`),
and the slope ``s = d log λ*/d log α`` with a 95% interval over seeds. The torch form's runs are the paper
form's under ``λ_torch = λ_paper/α`` (the same update, tested in ``tests/optim``), so its slope is ``s − 1``
from the same runs: what a user tuning torch's λ would see, reported beside the verdict, not as a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.claims import todays
from decaylab.claims.base import Coupling, Lab, Verdict, interval, signed
from decaylab.claims.statistics import coupling_verdict
from decaylab.lab.runs import RunConfig

PAPER_TO_TORCH = {"muonw": "muonw-torch", "lionw": "lionw-torch"}
LRS = {"muonw": (1e-3, 3e-3, 1e-2, 3e-2, 1e-1), "lionw": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)}
"""Five α columns, a half-decade apart around each method's grid (:data:`todays.GRIDS`), so that four may hold an
interior λ*: the verdict needs :data:`MIN_COLUMNS`."""
MIN_COLUMNS = 4
FIGURES = ("muon-lion-heatmaps.png", "muon-lion-ridges.png")


@dataclass(frozen=True)
class Measured:
    couplings: list[Coupling]


def in_torch_form(coupling: Coupling) -> Coupling:
    """The same runs read in the torch form: ``log λ*_torch = log λ*_paper − log α``, so the slope less 1."""
    return replace(coupling, method=PAPER_TO_TORCH[coupling.method], slope=coupling.slope.plus(-1.0))


class TodaysDecoupling:
    name = "muon-lion-decoupling"
    title = "Decoupling of α and λ under Muon and Lion"
    source = "the post's question for Muon (Jordan et al. 2024) and Lion (Chen et al. 2023)"
    procedure = (
        f"{todays.described(tuple(PAPER_TO_TORCH))}, α widened to five columns half a decade apart "
        f"({'; '.join(f'{m}: {LRS[m][0]:g} … {LRS[m][-1]:g}' for m in LRS)}). Per method, λ* at each learning-rate "
        "column within 5 points "
        "of the grid's best (a parabola through the best λ and its neighbours, seed by seed) and the slope s = "
        f"d log λ*/d log α with a 95% interval from Student's t over the seeds, from {MIN_COLUMNS} such columns or "
        "more; undecided, it says how many seeds would decide it (80% power). The torch form's slope is s − 1 "
        "from the same runs (λ_torch = λ_paper/α gives the same update)."
    )
    position = 110

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for method in PAPER_TO_TORCH for run in todays.grid(lab, method, LRS[method])]

    def measure(self, lab: Lab) -> Measured:
        return Measured([coupling for m in PAPER_TO_TORCH if (coupling := todays.coupling(lab, m, LRS[m]))])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        """A verdict per paper-form method; the torch form's slope, s − 1 from the same runs, is a detail: it
        holds exactly when the paper form's does, so it adds no evidence to the scoreboard."""
        details = ["| method | s = d log λ*/d log α | columns with λ* inside the grid |", "|---|---|---|"]
        for paper in measured.couplings:
            for coupling in (paper, in_torch_form(paper)):
                slope = f"{signed(coupling.slope.centre)} {interval(coupling.slope.low, coupling.slope.high)}"
                details.append(f"| {coupling.method} | {slope} | {coupling.columns} |")
        return [coupling_verdict(paper, MIN_COLUMNS) for paper in measured.couplings], details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        grids = [coupling.grid for coupling in measured.couplings]
        ridges = [coupling.ridge() for coupling in measured.couplings]
        title = f"charlm ({todays.EXAMPLES:,} sequences, batches of {todays.BATCH}): Muon and Lion"
        return draw_grids_and_ridges(grids, ridges, figures, FIGURES, title)


CLAIM = TodaysDecoupling()
