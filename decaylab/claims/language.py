"""On a transformer language model (LayerNorm, no BatchNorm): AdamW against AdamL2, and decoupling.

The post's claims come from image classifiers with BatchNorm; today AdamW's λ matters most for
transformers. The charlm task (a 2-block character transformer on Python's help texts),
selected on validation bits per character.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from decaylab.analysis.cells import MethodGrid
from decaylab.analysis.figures import draw_grids_and_ridges
from decaylab.analysis.ridges import RidgeSlope, ridge_slope
from decaylab.claims.base import Lab, Verdict, not_measured
from decaylab.claims.statistics import better, slope_verdict
from decaylab.lab.runs import RunConfig

FIGURES = ("language.png", "language-ridges.png")
LRS = (3e-3, 6e-3, 1e-2, 3e-2)
DECAYS = {"adamw": (1e-4, 1e-3, 1e-2, 1e-1), "adaml2": (1e-5, 1e-4, 1e-3, 1e-2)}
SEEDS = 2
"""A language model costs far more per run than MNIST-1D: a smaller grid and two seeds, at the task's
own length (6 epochs; at 2 the model is still near the bigram level, 3.3 bits per character, and the
heatmap is noise). The grid is where a first run found the optima: below α = 3e-3 no cell came within
25% of the best, paper AdamW's best λ reached 1e-2 at α = 1e-2 and 3e-2, AdamL2's sat at 1e-4. λ = 0
is left out: the ridge reads only λ > 0, and each method's best cell is its best decayed one."""


def listed(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:g}" for value in values)


@dataclass(frozen=True)
class Measured:
    grids: dict[str, MethodGrid]
    slopes: list[RidgeSlope]


class LanguageModel:
    name = "language"
    title = "A transformer language model: AdamW against AdamL2, and decoupling"
    source = "this project (the post's claims, on a model with LayerNorm)"
    procedure = (
        f"charlm, learning rates {listed(LRS)}, λ in {{{listed(DECAYS['adamw'])}}} for AdamW (decay per step) and "
        f"{{{listed(DECAYS['adaml2'])}}} for AdamL2 (the penalty), the task's 6 epochs, {SEEDS} seeds; best cells "
        "compared on test bits per character, seed by seed, and each method's ridge slope."
    )

    position = 100

    def runs(self, lab: Lab) -> list[RunConfig]:
        lrs, seeds, epochs = (LRS[::2], 1, 1) if lab.plan.quick else (LRS, SEEDS, lab.task("charlm").epochs)
        return [
            run
            for method, decays in DECAYS.items()
            for run in lab.grid("charlm", method, lrs, decays[::2] if lab.plan.quick else decays, seeds, epochs=epochs)
        ]

    def measure(self, lab: Lab) -> Measured:
        grids = lab.grids(self.runs(lab))
        return Measured(grids, [ridge_slope(grid) for grid in grids.values()])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        grids = measured.grids
        best_w, best_l2 = grids["adamw"].best(), grids["adaml2"].best()
        claim = "on a transformer, AdamW beats AdamL2 (best cells, test bits per character)"
        if best_w is None or best_l2 is None:
            return [not_measured(claim, "no cell"), *map(slope_verdict, measured.slopes)], []
        return [better(claim, best_w, best_l2, grids["adamw"]), *map(slope_verdict, measured.slopes)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        title = "charlm: validation bits per character"
        return draw_grids_and_ridges(list(measured.grids.values()), measured.slopes, figures, FIGURES, title)


CLAIM = LanguageModel()
