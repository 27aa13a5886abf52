"""λ* laws: ``log10 λ* = a + Σ_axis b_axis·log10(x_axis / x_base)``, fitted seed by seed.

Settings lie on axes through the base setting (one axis moved at a time), and only those whose λ* is
interior enter (an edge, a stability edge or a flat curve only bounds λ*, or says λ does not matter).
Per seed, each axis with two distinct such values gets its exponent ``b`` from a least-squares line through
its own settings, so another axis's misfit cannot move it; then one level ``a`` is fitted through every
setting given those exponents. A target that moves several axes adds their effects, and the law is one
surface: continuous everywhere, the base included, and what the figure draws.

Each seed gives an estimate of every exponent and of every prediction. An exponent's 95% interval is
Student's t over the seeds (as for λ* itself), so the seed-to-seed scatter of the measured λ* carries
into the law. A prediction's 95% interval is for the λ* a measurement at that setting would find (the
held-out check compares exactly that): the variance of the seeds' predictions (which grows with the
exponents' spread and with the distance from the data), the measurement's own seed noise, and the
misfit of the power law beyond that noise, scaled by the target's leverage; and never narrower than the
seeds' own predictions there. With fewer than 3 seeds there is no interval.

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
from decaylab.lab.statistics import MIN_SEEDS, Value, t_quantile
from decaylab.lab.transfer.axes import AXES, Setting

"""The units an exponent is read in (the method's own first, where it is one of the first two)."""


@dataclass(frozen=True)
class Law:
    """The fitted law of one method on one task: per seed, the level at the base and each axis's exponent."""

    base: Setting
    fits: dict[int, tuple[float, dict[str, float]]]
    """Per seed: ``(a, {axis: b})``."""
    settings: tuple[Setting, ...]
    """The settings the law was fitted on."""
    measured: dict[Setting, list[float]]
    """Their per-seed ``log10 λ*``, the fit's data."""

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(next(iter(self.fits.values()))[1])

    def exponent(self, axis: str) -> Value:
        """``b``: the exponent of λ* (in the units λ was measured in) along ``axis`` (NaN if not fitted)."""
        return Value.over_seeds([b[axis] for _, b in self.fits.values() if axis in b])

    def difference(self, first: str, second: str) -> Value:
        """``b_first − b_second`` with its 95% interval over seeds (NaN unless both axes are fitted)."""
        return Value.over_seeds([b[first] - b[second] for _, b in self.fits.values() if first in b and second in b])

    def predicted_per_seed(self, setting: Setting) -> dict[int, float]:
        """Per seed, ``log10 λ*`` at ``setting``; empty if it moves an axis the law has no exponent for."""
        moved = [axis for axis in Setting.AXES if getattr(setting, axis) != getattr(self.base, axis)]
        if any(axis not in self.axes for axis in moved):
            return {}
        return {
            seed: level + sum(b[a] * self.offset(setting, a) for a in moved) for seed, (level, b) in self.fits.items()
        }

    def offset(self, setting: Setting, axis: str) -> float:
        return math.log10(setting.value(axis) / self.base.value(axis))

    def predict(self, setting: Setting) -> Value:
        """``log10 λ*`` at ``setting`` (any values of the fitted axes; the others as at the base), with the 95%
        prediction interval of the module docstring."""
        per_seed = list(self.predicted_per_seed(setting).values())
        if not per_seed:
            return Value(math.nan)
        centre = statistics.fmean(per_seed)
        if len(per_seed) < MIN_SEEDS:
            return Value(centre)
        seeds = len(per_seed)
        rows = [self.design(s) for s in self.settings]
        means = [statistics.fmean(self.measured[s]) for s in self.settings]
        noise = statistics.fmean(statistics.variance(self.measured[s]) for s in self.settings) / seeds
        inverse = np.linalg.pinv(np.array(rows).T @ np.array(rows))
        residuals = np.array(means) - np.array(rows) @ (inverse @ np.array(rows).T @ np.array(means))
        misfit = (
            max(0.0, float(residuals @ residuals) / (len(rows) - len(rows[0])) - noise)
            if len(rows) > len(rows[0])
            else 0.0
        )
        leverage = float(np.array(self.design(setting)) @ inverse @ np.array(self.design(setting)))
        variance = statistics.variance(per_seed) / seeds + noise + misfit * (1 + leverage)
        half = t_quantile(seeds - 1) * math.sqrt(variance)
        return Value(centre, min(centre - half, min(per_seed)), max(centre + half, max(per_seed)))

    def design(self, setting: Setting) -> list[float]:
        """The row of the least-squares fit for ``setting``: 1, then its offset along each fitted axis."""
        return [1.0, *(self.offset(setting, axis) for axis in self.axes)]

    def reach(self, setting: Setting) -> dict[str, float]:
        """Per fitted axis that ``setting`` moves beyond the values the law was fitted on, how far: decades past
        the largest (positive) or below the smallest (negative)."""
        beyond = {}
        for axis in self.axes:
            fitted = [s.value(axis) for s in self.settings]
            value = setting.value(axis)
            if value > max(fitted) or value < min(fitted):
                edge = max(fitted) if value > max(fitted) else min(fitted)
                beyond[axis] = math.log10(value / edge)
        return beyond


def fit_law(
    base: Setting, axes: Sequence[str], estimates: Mapping[Setting, Estimate], seeds: Sequence[int]
) -> Law | None:
    """The law through the settings on ``axes`` whose λ* is interior (an axis needs two distinct values among
    them), one least-squares fit per seed that has λ* at every one of them; None if no axis has two."""
    settings = [s for s, e in estimates.items() if e.interior and any(moved_only(base, s, a) for a in axes)]
    fitted = [a for a in axes if len({s.value(a) for s in settings if moved_only(base, s, a)}) >= 2]
    settings = [s for s in settings if any(moved_only(base, s, a) for a in fitted)]
    complete = [
        seed for seed in seeds if all(math.isfinite(estimates[s].per_seed.get(seed, math.nan)) for s in settings)
    ]
    if not fitted or not complete:
        return None
    fits = {}
    for seed in complete:
        exponents = {}
        for axis in fitted:  # each exponent from its own axis's settings: another axis's misfit cannot move it
            on_axis = [s for s in settings if moved_only(base, s, axis)]
            offsets = [math.log10(s.value(axis) / base.value(axis)) for s in on_axis]
            exponents[axis] = float(np.polyfit(offsets, [estimates[s].per_seed[seed] for s in on_axis], 1)[0])
        level = statistics.fmean(
            estimates[s].per_seed[seed] - sum(b * math.log10(s.value(a) / base.value(a)) for a, b in exponents.items())
            for s in settings
        )  # one level through every setting: one surface, continuous at the base
        fits[seed] = (level, exponents)
    measured = {s: [estimates[s].per_seed[seed] for seed in complete] for s in settings}
    return Law(base, fits, tuple(settings), measured)


def moved_only(base: Setting, setting: Setting, axis: str) -> bool:
    """``setting`` is the base, or the base with only ``axis`` moved: it lies on ``axis``."""
    return all(getattr(setting, other) == getattr(base, other) for other in Setting.AXES if other != axis)


def in_units(exponent: Value, axis: str, convention: str) -> dict[str, Value]:
    """An exponent of ``log λ*`` along ``axis`` read in every unit (``paper``, ``torch``, ``τ_iter``, ``τ_epoch``)
    that the method's ``convention`` converts to (a penalty converts to none: only its own)."""
    if convention not in ("paper", "torch"):
        return {"own": exponent}
    shift = AXES[axis].torch_shift  # λ_torch = λ_paper/α
    paper = exponent if convention == "paper" else exponent.plus(-shift)
    return {
        "paper": paper,
        "torch": paper.plus(shift),
        "τ_iter": paper.negated(),  # 1/λ_paper steps
        "τ_epoch": paper.negated().plus(AXES[axis].epoch_shift),  # B/(N·λ_paper) epochs
    }
