"""Under a cosine schedule, BatchNorm-fed weights drift with torch-form AdamW and stay put with AdamC
(Defazio 2025; Kosson et al. 2024).

A scale-invariant weight's norm settles where decay and growth balance: ``‖w‖² ∝ lr_t/λ_t`` for
a decay ``lr_t·λ`` per step (torch-form AdamW). As the schedule anneals ``lr_t``, that balance
moves, and the norm drifts away from it. AdamC decays by ``λ·lr_t²/α``, which keeps the balance
``‖w‖² ∝ α/λ`` fixed while ``lr_t`` falls: its norms should stay where they were.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict
from decaylab.claims.rotation import layer_series
from decaylab.lab.runs import RunConfig

DRIFT = math.log(1.1)
"""A drift under 10% (in the norm, from half-way to the end) is no drift."""


def drift(norms: list[float]) -> float:
    """``|log(‖w‖_end / ‖w‖_half-way)|``: how far the norm moved while the schedule annealed."""
    return abs(math.log(norms[-1] / norms[len(norms) // 2]))


def drift_verdict(torch_drift: float, adamc_drift: float) -> Verdict:
    claim = "torch-form AdamW's BN-fed norms drift as the lr anneals, AdamC's stay put"
    statistic = (
        f"norm drift in the second half: AdamW (torch) {math.exp(torch_drift) - 1:+.1%}, "
        f"AdamC {math.exp(adamc_drift) - 1:+.1%} (magnitudes)"
    )
    holds = torch_drift > DRIFT and torch_drift >= 2 * adamc_drift
    verdict = HOLDS if holds else FAILS if adamc_drift >= torch_drift else INCONCLUSIVE
    rule = "holds if AdamW's drift exceeds 10% and twice AdamC's; does not hold if AdamC drifts as much or more"
    return Verdict(claim, statistic, verdict, rule)


class CorrectedDecay:
    name = "adamc"
    title = "AdamC keeps normalized layers at equilibrium while the learning rate anneals"
    source = "Defazio 2025 (AdamC); Kosson et al. 2024"
    procedure = (
        "The task with BatchNorm, cosine schedule, at the best cell (α, λ) of torch-form AdamW's grid: torch-form "
        "AdamW and AdamC with the same α and λ (the same decay at the peak). The norm of every BatchNorm-fed "
        "weight, mean over layers and seeds, from half-way to the end."
    )
    position = 90

    def pair(self, lab: Lab) -> dict[str, list[RunConfig]] | None:
        """Torch-form AdamW's and AdamC's runs at the best cell of torch-form AdamW's grid, once it has one."""
        best = lab.best_cell("bn", "adamw-torch")
        if best is None:
            return None
        return {
            m: [lab.run("bn", m, best.lr, best.weight_decay, s) for s in range(lab.plan.seeds)]
            for m in ("adamw-torch", "adamc")
        }

    def runs(self, lab: Lab) -> list[RunConfig]:
        pair = self.pair(lab)
        return lab.grid("bn", "adamw-torch") if pair is None else [run for runs in pair.values() for run in runs]

    def measure(self, lab: Lab) -> dict[str, list[float]] | Unmeasured:
        """Per method, the mean BN-fed norm per epoch."""
        pair = self.pair(lab)
        claim = "AdamC keeps BN-fed norms steady"
        if not pair:
            return Unmeasured(claim, "torch-form AdamW's grid has no finished cell")
        norms = {}
        for method, runs in pair.items():
            series = layer_series(lab.store, runs)
            if not series:
                return Unmeasured(claim, "the model has no BatchNorm-fed weight")
            layers = [n for n, _ in series.values()]
            norms[method] = [statistics.fmean(layer[e] for layer in layers) for e in range(min(map(len, layers)))]
        return norms

    def judge(self, norms: dict[str, list[float]]) -> tuple[list[Verdict], list[str]]:
        return [drift_verdict(drift(norms["adamw-torch"]), drift(norms["adamc"]))], []

    def draw(self, norms: dict[str, list[float]], figures: Path) -> list[str]:
        figure, axis = plt.subplots(figsize=(6, 4))
        for method, values in norms.items():
            axis.plot(range(1, len(values) + 1), [v / values[len(values) // 2] for v in values], label=method)
        axis.axvline(len(norms["adamc"]) // 2 + 1, color="0.6", linewidth=0.8)
        axis.set(xlabel="epoch", ylabel="mean BN-fed norm / its half-way value", title="norms under a cosine schedule")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        figure.savefig(figures / "adamc.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["adamc.png"]


CLAIM = CorrectedDecay()
