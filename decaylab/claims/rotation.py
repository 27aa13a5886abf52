"""The effective learning rate of BatchNorm-fed weights (Zhang et al. 2019; Kosson et al. 2024).

BatchNorm makes the weights before it scale-invariant: what matters is their direction, and
the step turns it by an angle that shrinks as the norm grows. With decoupled decay the norm
settles where decay and growth balance, and the rotation per step at that equilibrium is
Kosson et al.'s ``√(2·d·(1−β₁)/(1+β₁))`` for a decay ``d`` per step. Without decay the norm grows
and the rotation dies away; AdamL2's penalty passes through Adam's normalization, so layers
rotate unevenly.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt

from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Lab, Unmeasured, Verdict
from decaylab.lab.runs import RunConfig
from decaylab.lab.store import ResultStore

DECAY = 1e-2
"""Paper-form λ of the rotation runs: a decay per step whose equilibrium is reached in ~300 steps."""
Series = dict[str, tuple[list[float], list[float]]]
"""Per BN-fed layer: its norm and its rotation per step, one value per epoch."""


def equilibrium_rotation(decay_per_step: float, beta1: float) -> float:
    """Kosson et al. (2024): the per-step rotation at equilibrium, ``√(2d(1−β₁)/(1+β₁))``."""
    return math.sqrt(2 * decay_per_step * (1 - beta1) / (1 + beta1))


def equilibrium_verdict(measured: list[float], decay_per_step: float, steps: int, beta1: float) -> Verdict:
    predicted = equilibrium_rotation(decay_per_step, beta1)
    ratio = statistics.fmean(measured) / predicted
    claim = "with decay, BN-fed weights rotate at Kosson et al.'s equilibrium rate"
    statistic = f"measured / predicted = {ratio:.2f} (predicted {predicted:.2e} rad/step, {len(measured)} layers)"
    if steps * decay_per_step < 3:
        return Verdict(claim, statistic, INCONCLUSIVE, "equilibrium needs ≥ 3/d steps; training was shorter")
    verdict = HOLDS if 0.5 <= ratio <= 2 else FAILS if not 1 / 3 <= ratio <= 3 else INCONCLUSIVE
    return Verdict(claim, statistic, verdict, "holds if the ratio is within [0.5, 2]; does not hold outside [1/3, 3]")


def growth_verdict(norm_growth: float, rotation_decline: float) -> Verdict:
    statistic = f"norm ×{norm_growth:.2f}, rotation ×{rotation_decline:.2f} from first to last epoch"
    grows, slows = norm_growth > 1.05, rotation_decline < 0.7
    verdict = HOLDS if grows and slows else FAILS if norm_growth < 1 or rotation_decline > 1 else INCONCLUSIVE
    rule = "holds if the norm grows > 5% and the rotation falls > 30%; does not hold if either moves the other way"
    return Verdict("without decay, BN-fed weights grow and rotate ever slower", statistic, verdict, rule)


def uneven_verdict(spread_l2: float, spread_w: float) -> Verdict:
    statistic = f"max/min rotation across layers: AdamL2 {spread_l2:.2f}, AdamW {spread_w:.2f}"
    verdict = HOLDS if spread_l2 > 1.25 * spread_w else FAILS if spread_l2 < spread_w else INCONCLUSIVE
    rule = "holds if AdamL2's ratio exceeds AdamW's by 25%; does not hold if it is smaller"
    return Verdict("AdamL2 rotates its layers unevenly, AdamW evenly", statistic, verdict, rule)


def layer_series(store: ResultStore, runs: list[RunConfig]) -> Series:
    """Each layer's norm and rotation per epoch, averaged over the runs' seeds."""
    per_layer: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for run in runs:
        for epoch, layer, norm, rotation in store.layers(run.key):
            per_layer.setdefault(layer, {}).setdefault(epoch, []).append((norm, rotation))
    return {
        layer: (
            [statistics.fmean(n for n, _ in by_epoch[e]) for e in sorted(by_epoch)],
            [statistics.fmean(r for _, r in by_epoch[e]) for e in sorted(by_epoch)],
        )
        for layer, by_epoch in per_layer.items()
    }


def late_mean(values: list[float]) -> float:
    """Mean over the last fifth of training (at least one epoch)."""
    return statistics.fmean(values[-max(1, len(values) // 5) :])


def spread(series: Series) -> float:
    late = [late_mean(rotations) for _, rotations in series.values()]
    return max(late) / min(late)


@dataclass(frozen=True)
class Measured:
    series: dict[str, Series]
    """Per setting (AdamW with decay, without, AdamL2): each BN-fed layer's norm and rotation per epoch."""
    steps: int
    """Optimizer steps of the decayed setting's training."""
    beta1: float


class EffectiveLearningRate:
    name = "rotation"
    title = "The effective learning rate of BatchNorm-fed weights"
    source = "Zhang et al. 2019; Kosson et al. 2024"
    procedure = (
        "The task with BatchNorm at the best learning rate of its paper-AdamW grid, constant schedule: AdamW with "
        f"λ = {DECAY:g} per step, AdamW without decay, and AdamL2 at its best λ. Norm and rotation per step of "
        "every BatchNorm-fed weight (rotation sampled on every 8th step)."
    )
    position = 60

    def settings(self, lab: Lab) -> dict[str, list[RunConfig]] | None:
        """The three settings' runs, once the BN grids of AdamW and AdamL2 have a best cell."""
        best_w, best_l2 = lab.best_cell("bn", "adamw"), lab.best_cell("bn", "adaml2")
        if best_w is None or best_l2 is None:
            return None
        l2_decay = best_l2.weight_decay or 1e-3  # λ = 0 would make it plain Adam
        runs = {"AdamW, λ > 0": ("adamw", DECAY), "AdamW, λ = 0": ("adamw", 0.0), "AdamL2": ("adaml2", l2_decay)}
        return {
            label: [
                lab.run("bn", method, best_w.lr, decay, seed, schedule="constant", warmup=0.0)
                for seed in range(lab.plan.seeds)
            ]
            for label, (method, decay) in runs.items()
        }

    def runs(self, lab: Lab) -> list[RunConfig]:
        settings = self.settings(lab)
        if settings is None:
            return lab.grid("bn", "adamw") + lab.grid("bn", "adaml2")
        return [run for runs in settings.values() for run in runs]

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        settings = self.settings(lab)
        if not settings:
            return Unmeasured("effective learning rate under BN", "the BN grids have no finished cell")
        series = {label: layer_series(lab.store, runs) for label, runs in settings.items()}
        if not all(series.values()):
            return Unmeasured("effective learning rate under BN", "the model has no BatchNorm-fed weight")
        trained = len(next(iter(series["AdamW, λ > 0"].values()))[0])
        steps = trained * math.ceil(len(lab.task("bn").train[0]) / lab.task("bn").batch_size)
        return Measured(series, steps, next(iter(settings.values()))[0].betas[0])

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        decayed, undecayed, l2 = measured.series.values()
        growth = statistics.fmean(norms[-1] / norms[0] for norms, _ in undecayed.values())
        decline = statistics.fmean(late_mean(rotations) / rotations[0] for _, rotations in undecayed.values())
        return [
            equilibrium_verdict([late_mean(r) for _, r in decayed.values()], DECAY, measured.steps, measured.beta1),
            growth_verdict(growth, decline),
            uneven_verdict(spread(l2), spread(decayed)),
        ], []

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, (norm_axis, rotation_axis) = plt.subplots(1, 2, figsize=(12, 4.2))
        for color, (label, layers) in zip(("C0", "C1", "C2"), measured.series.items(), strict=True):
            for style, (layer, (norms, rotations)) in zip(("-", "--", ":", "-."), layers.items(), strict=False):
                epochs = range(1, len(norms) + 1)
                norm_axis.plot(epochs, norms, style, color=color, label=f"{label}: {layer}")
                rotation_axis.plot(epochs, rotations, style, color=color, label=f"{label}: {layer}")
        rotation_axis.axhline(
            equilibrium_rotation(DECAY, measured.beta1),
            color="black",
            linewidth=0.8,
            label=f"equilibrium for λ = {DECAY:g}",
        )
        norm_axis.set(xlabel="epoch", ylabel="weight norm", yscale="log", title="BN-fed weights: norm (constant lr)")
        rotation_axis.set(
            xlabel="epoch", ylabel="mean rotation per step (rad)", yscale="log", title="rotation per step"
        )
        rotation_axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
        for axis in (norm_axis, rotation_axis):
            axis.grid(alpha=0.3)
        figure.savefig(figures / "rotation.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["rotation.png"]


CLAIM = EffectiveLearningRate()
