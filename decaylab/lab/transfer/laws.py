"""λ* laws: per axis, ``log10 λ* = a + b·log10(x / x_base)``, fitted seed by seed.

Settings lie on axes through the base setting (one axis moved at a time). Each axis is fitted on its own
settings whose λ* is interior (an edge only bounds λ*), by least squares per seed: the exponent ``b`` and
the level ``a`` at the base. So an axis's law, and its prediction at the held-out largest value, rest on
that axis's settings alone, not on how well another axis follows a power law. A target that moves several
axes adds their effects: the sum of the lines' values at the target, less the base level (the mean of the
lines at the base) once for each line beyond the first; a target on one axis is that axis's line.

Each seed gives an estimate of every exponent and of every prediction; their 95% intervals are Student's
t over the seeds (as for λ* itself, :mod:`~decaylab.lab.transfer.search`), so the seed-to-seed scatter
of the measured λ* carries into the law. With fewer than 3 seeds there is no interval.

Exponents are read in each unit a practitioner meets: λ in the paper convention (decay per step at the
peak), in the torch convention (``λ_torch = λ_paper/α``), and as the timescales of the weights' average,
``τ_iter = 1/λ_paper`` steps and ``τ_epoch = B/(N·λ_paper)`` epochs (Wang & Aitchison).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from decaylab.lab.optimum import Estimate
from decaylab.lab.statistics import Value
from decaylab.lab.transfer.axes import Setting

UNITS = ("paper", "torch", "τ_iter", "τ_epoch")
"""The units an exponent is read in (the method's own first, where it is one of the first two)."""


@dataclass(frozen=True)
class Law:
    """The fitted law of one method on one task: per axis, per seed, the line ``(a, b)``."""

    base: Setting
    lines: dict[str, dict[int, tuple[float, float]]]
    settings: tuple[Setting, ...]
    """The settings the law was fitted on."""

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(self.lines)

    def exponent(self, axis: str) -> Value:
        """``b``: the exponent of λ* (in the units λ was measured in) along ``axis`` (NaN if not fitted)."""
        return Value.over_seeds([b for _, b in self.lines.get(axis, {}).values()])

    def predict(self, setting: Setting) -> Value:
        """``log10 λ*`` at ``setting`` (any values of the fitted axes; the others as at the base)."""
        return Value.over_seeds(list(self.predicted_per_seed(setting).values()))

    def predicted_per_seed(self, setting: Setting) -> dict[int, float]:
        """Per seed, ``log10 λ*`` at ``setting``; empty if it moves an axis the law has no line for."""
        moved = [axis for axis in Setting.AXES if getattr(setting, axis) != getattr(self.base, axis)]
        if any(axis not in self.lines for axis in moved):
            return {}
        predicted = {}
        for seed in sorted(set.intersection(*(set(line) for line in self.lines.values()))):
            level = statistics.fmean(self.lines[axis][seed][0] for axis in self.axes)  # the lines at the base
            values = [self.line(axis, seed, setting) for axis in moved]
            predicted[seed] = sum(values) - (len(values) - 1) * level if values else level
        return predicted

    def line(self, axis: str, seed: int, setting: Setting) -> float:
        """Seed ``seed``'s line along ``axis`` at ``setting``'s value of it."""
        level, exponent = self.lines[axis][seed]
        return level + exponent * math.log10(setting.value(axis) / self.base.value(axis))


def fit_law(
    base: Setting, axes: Sequence[str], estimates: Mapping[Setting, Estimate], seeds: Sequence[int]
) -> Law | None:
    """Each axis's line through its settings whose λ* is interior, seed by seed (an axis needs two such
    settings); None if no axis has a line."""
    settings = tuple(setting for setting, estimate in estimates.items() if estimate.interior)
    lines: dict[str, dict[int, tuple[float, float]]] = {}
    for axis in axes:
        on_axis = [s for s in settings if moved_only(base, s, axis)]
        if len({s.value(axis) for s in on_axis}) < 2:
            continue
        for seed in seeds:
            points = [
                (math.log10(s.value(axis) / base.value(axis)), estimates[s].per_seed.get(seed, math.nan))
                for s in on_axis
            ]
            points = [(x, y) for x, y in points if math.isfinite(y)]
            if len({x for x, _ in points}) >= 2:
                exponent, level = np.polyfit([x for x, _ in points], [y for _, y in points], 1)
                lines.setdefault(axis, {})[seed] = (float(level), float(exponent))
    return Law(base, lines, settings) if lines else None


def moved_only(base: Setting, setting: Setting, axis: str) -> bool:
    """``setting`` is the base, or the base with only ``axis`` moved: it lies on ``axis``."""
    return all(getattr(setting, other) == getattr(base, other) for other in Setting.AXES if other != axis)


def in_units(exponent: Value, axis: str, convention: str) -> dict[str, Value]:
    """An exponent of ``log λ*`` along ``axis`` read in every unit of :data:`UNITS` that the method's
    ``convention`` converts to (a penalty converts to none: only its own)."""
    if convention not in ("paper", "torch"):
        return {"own": exponent}
    along_lr = 1.0 if axis == "lr" else 0.0  # λ_paper = α·λ_torch
    paper = exponent if convention == "paper" else exponent.plus(along_lr)
    return {
        "paper": paper,
        "torch": paper.plus(-along_lr),
        "τ_iter": paper.negated(),  # 1/λ_paper steps
        "τ_epoch": paper.negated().plus((axis == "batch") - (axis == "N")),  # B/(N·λ_paper) epochs
    }
