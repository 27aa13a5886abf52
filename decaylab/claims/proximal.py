"""ProxAdam ≈ AdamW when η·λ is small (Zhuang et al. 2022; the post's Taylor argument).

Exactly, ``ProxAdam − AdamW = x/(1+x)·(x·w + lr·u)`` with ``x = η·λ``: a step's gap relative to
the step is about ``η·λ``. Along paper-AdamW runs, once per epoch, a ProxAdam step is taken
from the run's exact state (the trainer's ``proxadam-step`` probe) and its distance to the
run's own step recorded. Whole trajectories are no measure: Adam's ``1/√v̂`` grows any
perturbation to O(lr) within a few steps, whatever its origin.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict, not_measured
from decaylab.lab.runs import RunConfig
from decaylab.lab.training.probes import PROXADAM_STEP, ProxAdamStep

DECAYS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def proximal_verdict(decays: Sequence[float], gaps: Sequence[float]) -> Verdict:
    """Holds if the gap is ≤ 1% at the smallest λ and grows with λ (≥ 3/4 of the steps up)."""
    pairs = sorted((d, g) for d, g in zip(decays, gaps, strict=True) if d > 0 and math.isfinite(g))
    claim = "a ProxAdam step lands where AdamW's does when η·λ is small, and apart as it grows"
    if len(pairs) < 3:
        return not_measured(claim, f"needs at least 3 values of λ > 0, has {len(pairs)}")
    smallest = pairs[0][1]
    increasing = sum(b[1] >= a[1] for a, b in itertools.pairwise(pairs)) / (len(pairs) - 1)
    statistic = (
        f"relative gap {100 * smallest:.2g}% at λ = {pairs[0][0]:g}, {100 * pairs[-1][1]:.2g}% at λ = {pairs[-1][0]:g}"
    )
    verdict = HOLDS if smallest <= 0.01 and increasing >= 0.75 else FAILS if smallest > 0.05 else INCONCLUSIVE
    rule = "holds if ≤ 1% at the smallest λ and growing with λ (≥ 3/4 of steps); does not hold if > 5% at the smallest"
    return Verdict(claim, statistic, verdict, rule)


@dataclass(frozen=True)
class Measured:
    alpha: float
    gaps: list[float]
    """Per λ of :data:`DECAYS`: the mean relative gap over training and seeds (NaN where none was recorded)."""


class ProximalStep:
    name = "proximal"
    title = "ProxAdam ≈ AdamW for small η·λ"
    source = "Zhuang et al. 2022; the post"
    procedure = (
        "Paper-AdamW runs at the best learning rate of the task without BN, one per λ and seed. At the first step of "
        "every epoch a ProxAdam step is taken from the run's exact state (weights, moments, gradient) and "
        "‖w_ProxAdam − w_AdamW‖ / ‖w_AdamW − w‖ recorded; its mean over training is plotted against η·λ, the "
        "first-order gap, and the rule asks that it be small at small λ and grow with λ."
    )
    position = 40

    def probe_runs(self, lab: Lab, alpha: float) -> list[RunConfig]:
        return [
            lab.run("plain", "adamw", alpha, decay, seed, probes=(PROXADAM_STEP,))
            for seed in range(lab.plan.seeds)
            for decay in DECAYS
        ]

    def runs(self, lab: Lab) -> list[RunConfig]:
        best = lab.best_cell("plain", "adamw")
        return lab.grid("plain", "adamw") if best is None else self.probe_runs(lab, best.lr)

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        best = lab.best_cell("plain", "adamw")
        if best is None:
            return Unmeasured("ProxAdam ≈ AdamW", "paper AdamW's grid has no finished cell")
        gaps: dict[float, list[float]] = {}
        for run in self.probe_runs(lab, best.lr):
            values = [value for _, value in lab.store.measurements(run.key, ProxAdamStep.name)]
            gaps.setdefault(run.weight_decay, []).extend(values)
        return Measured(best.lr, [statistics.fmean(gaps[d]) if gaps.get(d) else math.nan for d in DECAYS])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        return [proximal_verdict(DECAYS, measured.gaps)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, axis = plt.subplots(figsize=(6, 4))
        axis.loglog(DECAYS, [100 * g for g in measured.gaps], "o-", label="measured, mean over training")
        axis.loglog(DECAYS, [100 * d for d in DECAYS], ":", color="0.5", label="η·λ at η = 1 (first order)")
        axis.set(
            xlabel="λ (decay per step at the peak)",
            ylabel="‖ProxAdam step − AdamW step‖ / ‖step‖ (%)",
            title=f"one ProxAdam step from AdamW's state, α = {measured.alpha:g}",
        )
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        figure.savefig(figures / "proximal.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["proximal.png"]


CLAIM = ProximalStep()
