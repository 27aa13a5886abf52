"""AdamW's advantage over AdamL2 appears late in training (Loshchilov & Hutter 2019, Sec. 4.3; the post).

The difference between the best AdamW and the best AdamL2 cell along training, on the task
without BatchNorm (where AdamW should win): a claim about when, not whether.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.analysis.cells import Cell, MetricScale
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict, not_measured
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import noise_floor
from decaylab.lab.store import ResultStore


def mean_curve(store: ResultStore, cell: Cell, scale: MetricScale) -> list[float]:
    """The cell's held-out score per epoch (larger is better), mean over its seeds."""
    curves = [store.curves(run["key"]) for run in cell.runs if run["status"] == "done"]
    length = min(len(c) for c in curves)
    return [scale.key(statistics.fmean(c[i][3] for c in curves)) for i in range(length)]


def late_verdict(gap: list[float], scale: MetricScale, reference: float) -> Verdict:
    """The rule on the gap curve (score of AdamW minus AdamL2 per epoch, larger: AdamW ahead)."""
    claim = "AdamW's lead over AdamL2 grows in the second half of training"
    if len(gap) < 2:
        return not_measured(claim, "needs at least 2 epochs")
    floor = noise_floor(scale.percent, reference)
    middle, end = gap[len(gap) // 2], gap[-1]
    factor, unit = (100, " points") if scale.percent else (1, "")
    statistic = f"gap {factor * middle:+.2f}{unit} half-way (epoch {len(gap) // 2 + 1}), {factor * end:+.2f} at the end"
    verdict = HOLDS if end > 0 and end - middle > floor else FAILS if end - middle < -floor else INCONCLUSIVE
    rule = (
        f"holds if the final gap is positive and {factor * floor:.2g}{unit} above the half-way gap; "
        "does not hold if it is that much below"
    )
    return Verdict(claim, statistic, verdict, rule)


@dataclass(frozen=True)
class Measured:
    gap: list[float]
    """Per epoch, the best AdamW cell's score minus the best AdamL2 cell's (larger: AdamW ahead)."""
    scale: MetricScale
    reference: float
    """The best AdamL2 cell's mean metric: the scale of the noise floor."""


class LateImprovement:
    name = "late"
    title = "AdamW's advantage appears late in training"
    source = "Loshchilov & Hutter 2019 (Sec. 4.3); the post"
    procedure = (
        "The held-out metric of the best AdamW cell minus that of the best AdamL2 cell, epoch by epoch, without BN."
    )
    position = 30

    def runs(self, lab: Lab) -> list[RunConfig]:
        return lab.grid("plain", "adamw") + lab.grid("plain", "adaml2")

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        grids = lab.grids(self.runs(lab))
        best_w, best_l2 = grids["adamw"].best(), grids["adaml2"].best()
        if best_w is None or best_l2 is None:
            return Unmeasured("AdamW's lead over AdamL2 grows late", "a method has no finished cell")
        if best_w.weight_decay == best_l2.weight_decay == 0 and best_w.lr == best_l2.lr:
            return Unmeasured(
                "AdamW's lead over AdamL2 grows late",
                f"both best cells are λ = 0 at α = {best_w.lr:g}: plain Adam twice, the same run, so no gap to follow",
            )
        scale = grids["adamw"].scale
        w, l2 = mean_curve(lab.store, best_w, scale), mean_curve(lab.store, best_l2, scale)
        return Measured([a - b for a, b in zip(w, l2, strict=False)], scale, best_l2.mean())

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        return [late_verdict(measured.gap, measured.scale, measured.reference)], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        scale, gap = measured.scale, measured.gap
        factor = 100 if scale.percent else 1
        figure, axis = plt.subplots(figsize=(6, 4))
        axis.plot(range(1, len(gap) + 1), [factor * g for g in gap])
        axis.axhline(0, color="0.5", linewidth=0.8)
        axis.set(
            xlabel="epoch",
            ylabel=f"AdamW − AdamL2 ({scale.label}, larger: AdamW ahead)",
            title="best AdamW cell against best AdamL2 cell, without BN",
        )
        axis.grid(alpha=0.3)
        figure.savefig(figures / "late.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["late.png"]


CLAIM = LateImprovement()
