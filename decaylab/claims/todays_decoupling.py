"""Decoupling under Muon and Lion (issue 17, claim 1): the post's Fig. 1 for today's optimizers.

Both carry a decoupled decay; the post's argument says its paper form ``1 − η_t·λ`` keeps the best λ put as α
changes, and the torch form ``1 − lr_t·λ`` (``torch.optim.Muon``; Lion's Algorithm 2) makes it fall as ``1/α``.
Per method, λ* at each good learning-rate column of a charlm grid, seed by seed (:mod:`decaylab.claims.todays`),
and the slope ``s = d log λ*/d log α`` with a 95% interval over seeds. The torch form's runs are the paper
form's under ``λ_torch = λ_paper/α`` (the same update, tested in ``tests/optim``), so its slope is ``s − 1``
from the same runs: what a user tuning torch's λ would see, reported beside the verdict, not as a second one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.analysis.ridges import good_columns
from decaylab.claims import todays
from decaylab.claims.base import Coupling, Lab, Verdict, column_estimate, interval, signed
from decaylab.claims.statistics import coupling_verdict, power_statement
from decaylab.lab.optimum import EDGE
from decaylab.lab.runs import RunConfig
from decaylab.optim import METHODS

PAPER_TO_TORCH = {"muonw": "muonw-torch", "lionw": "lionw-torch"}
LRS = {"muonw": (1e-2, 1.3e-2, 1.7e-2, 2.3e-2, 3e-2, 4e-2), "lionw": (1e-3, 1.3e-3, 1.7e-3, 2.3e-3, 3e-3)}
"""α columns an eighth of a decade apart inside each method's good range, so that four or more may hold an
interior λ* (the verdict needs :data:`MIN_COLUMNS`). Five columns half a decade apart (Muon 1e-3 … 0.1, Lion 1e-4 …
0.01, 3 seeds; ``docs/design-notes.md``) had only two good columns each (within 5% of the grid's best: Muon 0.01
and 0.03, Lion 0.001 and 0.003), and one interior λ* each."""
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
        f"{todays.described(tuple(PAPER_TO_TORCH), LRS)}; α an eighth of a decade apart inside each method's good "
        "range, placed by a run of five columns half a decade apart. Per method, λ* at each learning-rate column "
        "within 5 points (5% of a loss) "
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
        holds exactly when the paper form's does, so it adds no evidence to the scoreboard. Too few columns with
        an interior λ* say how many runs would bring them (:func:`runs_to_decide`); every column's reading is a
        detail."""
        details = ["| method | s = d log λ*/d log α | columns with λ* inside the grid |", "|---|---|---|"]
        for paper in measured.couplings:
            for coupling in (paper, in_torch_form(paper)):
                slope = f"{signed(coupling.slope.centre)} {interval(coupling.slope.low, coupling.slope.high)}"
                details.append(f"| {coupling.method} | {slope} | {coupling.columns} |")
        verdicts = []
        for paper in measured.couplings:
            verdict = coupling_verdict(paper, MIN_COLUMNS)
            if paper.columns < MIN_COLUMNS:
                verdict = replace(verdict, statistic=runs_to_decide(paper))
            verdicts.append(verdict)
            details += ["", *column_readings(paper)]
        return verdicts, details

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        grids = [coupling.grid for coupling in measured.couplings]
        ridges = [coupling.ridge() for coupling in measured.couplings]
        title = f"charlm ({todays.EXAMPLES:,} sequences, batches of {todays.BATCH}): Muon and Lion"
        return draw_grids_and_ridges(grids, ridges, figures, FIGURES, title)


def column_readings(coupling: Coupling) -> list[str]:
    """Each α column's λ* (paper form, seed-mean): a value where interior, a bound where the column's best λ sits at
    the grid's edge; and whether the column is good (its best within :data:`~decaylab.analysis.ridges.GOOD_COLUMN`
    of the grid's best), as the slope counts only those."""
    grid, good = coupling.grid, good_columns(coupling.grid)
    smallest = math.log10(min(decay for decay in grid.weight_decays if decay > 0))
    lines = [f"| {coupling.method}: α | good | λ* (paper) | reading |", "|---|---|---|---|"]
    for lr in grid.lrs:
        found = column_estimate(grid, lr, coupling.seeds)
        if found is None:
            lines.append(f"| {lr:g} | {'yes' if lr in good else 'no'} | — | no finished runs |")
            continue
        bound = ("≤ " if found.log_lambda <= smallest else "≥ ") if found.kind == EDGE else ""
        lines.append(f"| {lr:g} | {'yes' if lr in good else 'no'} | {bound}{10**found.log_lambda:.2g} | {found.kind} |")
    return lines


def runs_to_decide(coupling: Coupling) -> str:
    """What more runs would give the slope its columns: each missing good column with an interior λ* is one more α
    inside the good range (a finer α step), its λ column over the seeds; more where λ* leaves the λ grid. Where the
    columns there are give a slope with an interval, also how many seeds would decide it at that slope and spread
    (:func:`~decaylab.claims.statistics.seeds_to_decide`)."""
    missing = MIN_COLUMNS - coupling.columns
    good, decays = good_columns(coupling.grid), len(coupling.grid.weight_decays)
    runs = missing * decays * coupling.seeds
    inside = f"α within {min(good):g} … {max(good):g}" if good else "α where training works"
    text = (
        f"{coupling.columns} of the {MIN_COLUMNS} columns a slope needs; at least {runs} more runs would give them "
        f"({missing} more α columns of {decays} λ × {coupling.seeds} seeds, at {inside}, where this grid's columns "
        "are good), more where λ* leaves the λ grid"
    )
    slope, columns = coupling.slope, coupling.columns + missing
    if not slope.has_interval:
        return text
    at = f"s = {signed(slope.centre)} {interval(slope.low, slope.high)} over those {coupling.columns}"
    expect, per_seed = METHODS[coupling.method].coupling, columns * decays
    power = power_statement(
        slope.centre, slope.low, slope.high, coupling.seeds, expect, per_seed, f"on {columns} columns"
    )
    return f"{text}; at {at}, {power}"


CLAIM = TodaysDecoupling()
