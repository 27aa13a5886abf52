"""Scale-freeness: AdamW and ProxAdam ignore the scale of the loss, AdamL2 and AdamP do not (Zhuang et al. 2022).

With ε → 0, Adam's direction ``m̂/D`` does not change when the loss is multiplied by ``c``; a
decoupled decay does not either, so the best λ stays put. AdamL2's penalty ``λ/2·‖w‖²`` competes
with a loss ``c`` times larger, so its best λ moves by ``log10 c`` decades (AdamP's likewise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.analysis.ridges import best_log_decay, cell_score
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict, not_measured
from decaylab.lab.runs import RunConfig

COUPLED_TO_SCALE = {"adamw": False, "proxadam": False, "adaml2": True, "adamp": True}
LOSS_SCALES = (1.0, 10.0, 100.0)
SMALL_EPS = 1e-12
"""ε → 0: the statement is exact only then (with ε = 1e-8 and small gradients, ε matters)."""


def shift_verdict(method: str, scale: float, shift: float, expected: float) -> Verdict:
    """Holds within ±0.5 decade of the expected shift; does not hold beyond ±1."""
    decades = f"{expected:g} decade" + ("s" if expected != 1 else "")
    moves = f"moves the best λ up by {decades}" if expected else "leaves the best λ put"
    claim = f"{method}: loss × {scale:g} {moves}"
    if not math.isfinite(shift):
        return not_measured(claim, "needs a best λ > 0 at both scales")
    verdict = HOLDS if abs(shift - expected) <= 0.5 else FAILS if abs(shift - expected) > 1.0 else INCONCLUSIVE
    return Verdict(claim, f"shift {shift:+.2f} decades", verdict, "holds within ±0.5 decade; does not hold beyond ±1")


@dataclass(frozen=True)
class Curve:
    """One method at one loss scale: its metric over λ > 0 at α, and its best λ (NaN if none is finite)."""

    decays: list[float]
    shown: list[float]
    """The metric in display units, per λ."""
    log_best_decay: float


@dataclass(frozen=True)
class Measured:
    alpha: float
    curves: dict[str, dict[float, Curve]]
    """Per method, per loss scale."""
    label: str
    """The metric's axis label."""


class ScaleFreeness:
    name = "scale"
    title = "Scale-freeness"
    source = "Zhuang et al. 2022"
    procedure = (
        f"The loss multiplied by c ∈ {{10, 100}}, ε = {SMALL_EPS:g}, at the best learning rate of paper AdamW "
        "on the task without BN, over each method's λ grid: how far the best λ (mean over seeds, parabola-refined) "
        "moves."
    )
    position = 50

    def scaled_runs(self, lab: Lab, alpha: float, method: str, scale: float) -> list[RunConfig]:
        return lab.grid("plain", method, [alpha], eps=SMALL_EPS, loss_scale=scale)

    def runs(self, lab: Lab) -> list[RunConfig]:
        best = lab.best_cell("plain", "adamw")
        if best is None:
            return lab.grid("plain", "adamw")
        return [r for m in COUPLED_TO_SCALE for c in LOSS_SCALES for r in self.scaled_runs(lab, best.lr, m, c)]

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        best = lab.best_cell("plain", "adamw")
        if best is None:
            return Unmeasured("scale-freeness", "paper AdamW's grid has no finished cell")
        curves: dict[str, dict[float, Curve]] = {}
        for method in COUPLED_TO_SCALE:
            for scale in LOSS_SCALES:
                grid = lab.grids(self.scaled_runs(lab, best.lr, method, scale))[method]
                decays = [d for d in grid.weight_decays if d > 0]
                scores = [cell_score(grid.cell(d, best.lr), grid.scale) for d in decays]
                shown = [grid.scale.shown(grid.cell(d, best.lr).mean()) for d in decays]
                log_decay = best_log_decay(decays, scores)
                log_decay = math.nan if log_decay is None else log_decay
                curves.setdefault(method, {})[scale] = Curve(decays, shown, log_decay)
        return Measured(best.lr, curves, grid.scale.label)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for method, coupled in COUPLED_TO_SCALE.items():
            best = {scale: curve.log_best_decay for scale, curve in measured.curves[method].items()}
            for scale in LOSS_SCALES[1:]:
                expected = math.log10(scale) if coupled else 0.0
                verdicts.append(shift_verdict(method, scale, best[scale] - best[1.0], expected))
        return verdicts, []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axes = plt.subplots(1, len(COUPLED_TO_SCALE), figsize=(4 * len(COUPLED_TO_SCALE), 3.6), squeeze=False)
        for axis, (method, by_scale) in zip(axes[0], measured.curves.items(), strict=True):
            for scale, curve in by_scale.items():
                axis.semilogx(curve.decays, curve.shown, "o-", label=f"loss × {scale:g}")
            axis.set(xlabel="λ", ylabel=measured.label, title=f"{method} (ε = {SMALL_EPS:g})")
            axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.savefig(figures / "scale.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["scale.png"]


CLAIM = ScaleFreeness()
