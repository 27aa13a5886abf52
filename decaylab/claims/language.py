"""On a transformer language model (LayerNorm, no BatchNorm): AdamW against AdamL2.

The post's claims come from image classifiers with BatchNorm; today AdamW's λ matters most for
transformers. The charlm task (a 2-block character transformer on Python's help texts), selected on
validation bits per character.

A charlm run costs about 25 s of this 2-core machine against MNIST-1D's 2, so the claim is built to
fit the full run's budget without giving up what a verdict needs: each method's α × λ grid is trained
on one seed to choose its best cell, and the two chosen cells are compared on three fresh seeds. The
fresh seeds also keep the comparison free of the winner's curse (the seed that chose a cell flatters
it). How λ* moves with α on this model is a law, measured by ``decaylab transfer --task charlm
--lrs …`` (a λ* search per α) rather than read off this grid.
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

FIGURE = "language.png"
GRIDS = {
    "adamw": ((3e-3, 6e-3, 1e-2), (1e-4, 1e-3, 1e-2)),
    "adaml2": ((6e-3, 1e-2, 3e-2), (1e-5, 1e-4, 1e-3)),
}
"""Each method's (α, λ) grid, around the optimum a first run found on one seed (α 3e-3 … 3e-2 × λ 1e-5 …
0.1): paper AdamW's best cell lay at α = 6e-3, λ = 1e-3 (2.056 bits per character on validation), AdamL2's
at α = 1e-2, λ = 1e-4 (2.070); cells at α = 3e-2 without decay, or at λ = 0.1, lay above 2.9."""
SELECTION_SEED = 0


def role(lab: Lab) -> str:
    """charlm; under ``--quick`` its first :data:`~decaylab.claims.todays.QUICK_EXAMPLES` sequences (a smoke run:
    the whole task took 130 s of a 225 s ``claims --quick``)."""
    return lab.subset("charlm", todays.QUICK_EXAMPLES) if lab.plan.quick else "charlm"


@dataclass(frozen=True)
class Measured:
    selection: dict[str, MethodGrid]
    """Each method's grid on the selection seed."""
    compared: dict[str, MethodGrid]
    """Each method's chosen cell on the fresh seeds."""


class LanguageModel:
    name = "language"
    title = "A transformer language model: AdamW against AdamL2"
    source = "this project (the post's claims, on a model with LayerNorm)"
    procedure = (
        "charlm at its own 6 epochs. Each method's α × λ grid ("
        + "; ".join(f"{m}: α {', '.join(map(str, lrs))}, λ {', '.join(map(str, ds))}" for m, (lrs, ds) in GRIDS.items())
        + ") on one seed chooses its best cell on validation bits per character; the two chosen cells are then "
        "trained on three fresh seeds and compared on test bits per character, seed by seed. How λ* moves with "
        "α on this model: `decaylab transfer --task charlm --lrs 0.003,0.006,0.01`."
    )
    position = 100

    def selection(self, lab: Lab) -> list[RunConfig]:
        epochs = 1 if lab.plan.quick else lab.task("charlm").epochs
        return [
            run
            for method, (lrs, decays) in GRIDS.items()
            for run in lab.grid(role(lab), method, lrs[1:] if lab.plan.quick else lrs, decays, 1, epochs=epochs)
        ]

    def compared(self, lab: Lab, grids: dict[str, MethodGrid]) -> list[RunConfig]:
        """The chosen cells on the fresh seeds (as many as the plan's seeds)."""
        seeds = range(SELECTION_SEED + 1, SELECTION_SEED + 1 + lab.plan.seeds)
        epochs = 1 if lab.plan.quick else lab.task("charlm").epochs
        chosen = [best for grid in grids.values() if (best := grid.best()) is not None]
        return [
            lab.run(role(lab), cell.method, cell.lr, cell.weight_decay, seed, epochs=epochs)
            for cell in chosen
            for seed in seeds
        ]

    def runs(self, lab: Lab) -> list[RunConfig]:
        selection = self.selection(lab)
        if not lab.stored(selection):
            return selection
        return selection + self.compared(lab, lab.grids(selection))

    def measure(self, lab: Lab) -> Measured:
        selection = lab.grids(self.selection(lab))
        return Measured(selection, lab.grids(self.compared(lab, selection)))

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        claim = "on a transformer, AdamW beats AdamL2 (best cells, fresh seeds, test bits per character)"
        chosen = {method: grid.best() for method, grid in measured.selection.items()}
        adamw, adaml2 = chosen["adamw"], chosen["adaml2"]
        if adamw is None or adaml2 is None or set(measured.compared) != set(GRIDS):
            return [not_measured(claim, "a method has no finished cell")], []
        edge = at_an_edge(claim, (adamw, measured.selection["adamw"]), (adaml2, measured.selection["adaml2"]))
        fresh_w = measured.compared["adamw"].cell(adamw.weight_decay, adamw.lr)
        fresh_l2 = measured.compared["adaml2"].cell(adaml2.weight_decay, adaml2.lr)
        return [edge or better(claim, fresh_w, fresh_l2, measured.compared["adamw"])], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = f"charlm: validation bits per character (seed {SELECTION_SEED}, which chooses each best cell)"
        draw_heatmaps(list(measured.selection.values()), figures / FIGURE, title)
        return [FIGURE]


CLAIM = LanguageModel()
