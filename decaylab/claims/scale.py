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

from decaylab.analysis.ridges import cell_score
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict, not_measured
from decaylab.lab.optimum import column_optimum
from decaylab.lab.runs import RunConfig

LOSS_SCALES = (1.0, 10.0, 100.0)
SMALL_EPS = 1e-12
"""ε → 0: the statement is exact only then (with ε = 1e-8 and small gradients, ε matters)."""


def shift_verdict(method: str, scale: float, shift: float, expected: float) -> Verdict:
    """Holds within ±0.5 decade of the expected shift; does not hold beyond ±1."""
    decades = f"{expected:g} decade" + ("s" if expected != 1 else "")
    moves = f"moves the best λ up by {decades}" if expected else "leaves the best λ put"
    claim = f"{method}: loss × {scale:g} {moves}"
    if not math.isfinite(shift):
        return not_measured(claim, "needs a best λ > 0 inside the grid at both scales")
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
    """The loss multiplied by ``c`` at one learning rate, over each method's λ grid: how far the best λ moves.

    ``coupled`` says, per method, whether its best λ should move by ``log10 c`` (a penalty in the gradient) or
    stay put; the learning rate is the best of ``base``'s grid on ``role``'s task (``on``, in words; with
    ``base_decays``: of those λ only, when no other claim trains that grid).
    """

    def __init__(
        self,
        name: str,
        title: str,
        source: str,
        coupled: dict[str, bool],
        *,
        role: str,
        on: str,
        base: str,
        base_decays: tuple[float, ...] | None = None,
        position: int,
    ):
        self.name, self.title, self.source, self.position = name, title, source, position
        self.coupled, self.role, self.base, self.base_decays = coupled, role, base, base_decays
        chosen = "paper AdamW" if base == "adamw" else base
        at = f"at the best learning rate of {chosen}" + (" without decay" if base_decays == (0.0,) else "")
        self.procedure = (
            f"The loss multiplied by c ∈ {{10, 100}}, ε = {SMALL_EPS:g}, {at} on {on}, over each method's "
            "λ grid (one decade more on top for those whose best λ should move up): how far the best λ (mean over "
            "seeds, parabola-refined) moves."
        )

    def scaled_runs(self, lab: Lab, alpha: float, method: str, scale: float) -> list[RunConfig]:
        """``method``'s λ grid at ``α``; a method whose best λ should move up gets one decade more on top, so
        that at loss × 100 its best λ can lie inside the grid (an edge only bounds it)."""
        decays = lab.plan.decays_of(method)
        decays = (*decays, 10 * max(decays)) if self.coupled[method] else decays
        return lab.grid(self.role, method, [alpha], decays, eps=SMALL_EPS, loss_scale=scale)

    def base_runs(self, lab: Lab) -> list[RunConfig]:
        return lab.grid(self.role, self.base, decays=self.base_decays)

    def best_lr(self, lab: Lab) -> float | None:
        runs = self.base_runs(lab)
        best = lab.grids(runs)[self.base].best() if lab.stored(runs) else None
        return best.lr if best is not None else None

    def runs(self, lab: Lab) -> list[RunConfig]:
        alpha = self.best_lr(lab)
        if alpha is None:
            return self.base_runs(lab)
        return [r for m in self.coupled for c in LOSS_SCALES for r in self.scaled_runs(lab, alpha, m, c)]

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        alpha = self.best_lr(lab)
        if alpha is None:
            return Unmeasured(self.title.lower(), f"{self.base}'s grid has no finished cell")
        curves: dict[str, dict[float, Curve]] = {}
        for method in self.coupled:
            for scale in LOSS_SCALES:
                grid = lab.grids(self.scaled_runs(lab, alpha, method, scale))[method]
                decays = [d for d in grid.weight_decays if d > 0]
                scores = [cell_score(grid.cell(d, alpha), grid.scale) for d in decays]
                shown = [grid.scale.shown(grid.cell(d, alpha).mean()) for d in decays]
                log_decay = column_optimum(decays, scores, interior=True)  # an edge only bounds λ*
                log_decay = math.nan if log_decay is None else log_decay
                curves.setdefault(method, {})[scale] = Curve(decays, shown, log_decay)
        return Measured(alpha, curves, grid.scale.label)

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for method, coupled in self.coupled.items():
            best = {scale: curve.log_best_decay for scale, curve in measured.curves[method].items()}
            for scale in LOSS_SCALES[1:]:
                expected = math.log10(scale) if coupled else 0.0
                verdicts.append(shift_verdict(method, scale, best[scale] - best[1.0], expected))
        return verdicts, []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axes = plt.subplots(1, len(self.coupled), figsize=(4 * len(self.coupled), 3.6), squeeze=False)
        for axis, (method, by_scale) in zip(axes[0], measured.curves.items(), strict=True):
            for scale, curve in by_scale.items():
                axis.semilogx(curve.decays, curve.shown, "o-", label=f"loss × {scale:g}")
            axis.set(xlabel="λ", ylabel=measured.label, title=f"{method} (ε = {SMALL_EPS:g})")
            axis.legend(fontsize=7)
            axis.grid(alpha=0.3)
        figure.savefig(figures / f"{self.name}.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return [f"{self.name}.png"]


CLAIM = ScaleFreeness(
    "scale",
    "Scale-freeness",
    "Zhuang et al. 2022",
    {"adamw": False, "proxadam": False, "adaml2": True, "adamp": True},
    role="plain",
    on="the task without BN",
    base="adamw",
    position=50,
)
