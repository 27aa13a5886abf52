"""Scale-freeness: AdamW and ProxAdam ignore the scale of the loss, AdamL2 and AdamP do not (Zhuang et al. 2022).

With ε → 0, Adam's direction ``m̂/D`` does not change when the loss is multiplied by ``c``; a
decoupled decay does not either, so the best λ stays put. AdamL2's penalty ``λ/2·‖w‖²`` competes
with a loss ``c`` times larger, so its best λ moves by ``log10 c`` decades (AdamP's likewise).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.analysis.ridges import best_log_decay, cell_score
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Finding, Lab, Verdict, not_measured
from decaylab.claims.batchnorm import BatchNormComparison
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


class ScaleFreeness:
    name = "scale"
    title = "Scale-freeness"
    source = "Zhuang et al. 2022"
    procedure = (
        f"The loss multiplied by c ∈ {{10, 100}}, ε = {SMALL_EPS:g}, at the best learning rate of paper AdamW "
        "on the task without BN, over each method's λ grid: how far the best λ (mean over seeds, parabola-refined) "
        "moves."
    )

    def alpha(self, lab: Lab) -> float | None:
        best = lab.best(BatchNormComparison().grid_runs(lab, "plain"), "adamw")
        return None if best is None else best.lr

    def scaled_runs(self, lab: Lab, alpha: float, method: str, scale: float) -> list[RunConfig]:
        return lab.grid("plain", method, [alpha], eps=SMALL_EPS, loss_scale=scale)

    def runs(self, lab: Lab) -> list[RunConfig]:
        alpha = self.alpha(lab)
        if alpha is None:
            return BatchNormComparison().grid_runs(lab, "plain")
        return [r for m in COUPLED_TO_SCALE for c in LOSS_SCALES for r in self.scaled_runs(lab, alpha, m, c)]

    def check(self, lab: Lab, figures: Path) -> Finding:
        alpha = self.alpha(lab)
        if alpha is None:
            return Finding([not_measured("scale-freeness", "paper AdamW's grid has no finished cell")])
        verdicts = []
        figure, axes = plt.subplots(1, len(COUPLED_TO_SCALE), figsize=(4 * len(COUPLED_TO_SCALE), 3.6), squeeze=False)
        for axis, (method, coupled) in zip(axes[0], COUPLED_TO_SCALE.items(), strict=True):
            best: dict[float, float] = {}
            for scale in LOSS_SCALES:
                grid = lab.grids(self.scaled_runs(lab, alpha, method, scale))[method]
                decays = [d for d in grid.weight_decays if d > 0]
                scores = [cell_score(grid.cell(d, alpha), grid.scale) for d in decays]
                axis.semilogx(decays, [grid.scale.shown(grid.cell(d, alpha).mean()) for d in decays], "o-",
                              label=f"loss × {scale:g}")  # fmt: skip
                log_decay = best_log_decay(decays, scores)
                best[scale] = log_decay if log_decay is not None else math.nan
            for scale in LOSS_SCALES[1:]:
                expected = math.log10(scale) if coupled else 0.0
                verdicts.append(shift_verdict(method, scale, best[scale] - best[1.0], expected))
            axis.set(xlabel="λ", ylabel=grid.scale.label, title=f"{method} (ε = {SMALL_EPS:g})")
            axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.savefig(figures / "scale.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return Finding(verdicts, ["scale.png"])
