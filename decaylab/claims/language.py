"""On a transformer language model (LayerNorm, no BatchNorm): AdamW against AdamL2, and decoupling.

The post's claims come from image classifiers with BatchNorm; today AdamW's λ matters most for
transformers. The charlm task (a 2-block character transformer on Python's help texts),
selected on validation bits per character.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.claims.base import Coupling, Lab, Verdict, not_measured
from decaylab.claims.statistics import better, coupling_verdict
from decaylab.lab.runs import RunConfig

FIGURES = ("language.png", "language-ridges.png")
LRS = (3e-3, 6e-3, 1e-2, 3e-2)
DECAYS = {"adamw": (1e-4, 1e-3, 1e-2, 1e-1), "adaml2": (1e-5, 1e-4, 1e-3, 1e-2)}
SEEDS = 3
"""A language model costs far more per run than MNIST-1D: a smaller grid (three seeds, the fewest a verdict
may rest on), at the task's
own length (6 epochs; at 2 the model is still near the bigram level, 3.3 bits per character, and the
heatmap is noise). The grid is where a first run found the optima: below α = 3e-3 no cell came within
25% of the best, paper AdamW's best λ reached 1e-2 at α = 1e-2 and 3e-2, AdamL2's sat at 1e-4. λ = 0
is left out: the ridge reads only λ > 0, and each method's best cell is its best decayed one."""


def listed(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:g}" for value in values)


@dataclass(frozen=True)
class Measured:
    couplings: list[Coupling]


class LanguageModel:
    name = "language"
    title = "A transformer language model: AdamW against AdamL2, and decoupling"
    source = "this project (the post's claims, on a model with LayerNorm)"
    procedure = (
        f"charlm, learning rates {listed(LRS)}, λ in {{{listed(DECAYS['adamw'])}}} for AdamW (decay per step) and "
        f"{{{listed(DECAYS['adaml2'])}}} for AdamL2 (the penalty), the task's 6 epochs, {SEEDS} seeds; best cells "
        "compared on test bits per character, seed by seed; and each method's λ* searched in rounds at every good "
        "column, with the slope of log λ* on log α and its 95% interval over seeds."
    )
    position = 100

    def couplings(self, lab: Lab) -> list[tuple[list[RunConfig], Coupling | None]]:
        quick = lab.plan.quick
        lrs, seeds, epochs = (LRS[::2], 1, 1) if quick else (LRS, SEEDS, lab.task("charlm").epochs)
        return [
            lab.coupling("charlm", method, lrs, decays[::2] if quick else decays, seeds, epochs=epochs)
            for method, decays in DECAYS.items()
        ]

    def runs(self, lab: Lab) -> list[RunConfig]:
        return [run for runs, _ in self.couplings(lab) for run in runs]

    def measure(self, lab: Lab) -> Measured:
        return Measured([coupling for _, coupling in self.couplings(lab) if coupling is not None])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        grids = {coupling.method: coupling.grid for coupling in measured.couplings}
        best_w, best_l2 = grids["adamw"].best(), grids["adaml2"].best()
        claim = "on a transformer, AdamW beats AdamL2 (best cells, test bits per character)"
        compared = (
            not_measured(claim, "no cell")
            if best_w is None or best_l2 is None
            else better(claim, best_w, best_l2, grids["adamw"])
        )
        return [compared, *map(coupling_verdict, measured.couplings)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = "charlm: validation bits per character"
        grids, ridges = [c.grid for c in measured.couplings], [c.ridge() for c in measured.couplings]
        return draw_grids_and_ridges(grids, ridges, figures, FIGURES, title)


CLAIM = LanguageModel()
