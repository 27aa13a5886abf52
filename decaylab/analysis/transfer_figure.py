"""``OUT/transfer.png``: λ* along each axis of a transfer, one panel per axis: the measured λ* with their
intervals (and where a setting has none, its best point and why), the law as ``predict`` draws it, the published
rules' lines through the base point, the held-out setting's prediction, and the target."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes as Panel
from matplotlib.ticker import NullFormatter

from decaylab.lab.optimum import interior_value
from decaylab.lab.statistics import Value
from decaylab.lab.transfer.advice import advise
from decaylab.lab.transfer.axes import LABELS, Setting
from decaylab.lab.transfer.measure import Transfer
from decaylab.lab.transfer.rules import RULES
from decaylab.optim import METHODS

NOT_INTERIOR = {"at an edge": "^", "at a stability edge": "x", "flat": "_"}
"""How a setting whose λ* is not interior is marked in the figure (at its best point)."""


def draw_axes(result: Transfer, path: Path) -> None:
    """One panel per axis: the measured λ* with their intervals, the law, the rules' lines through the base
    point, the held-out point with its prediction, and the target where the advice gives one."""
    axes = list(result.axes.values)
    figure, panels = plt.subplots(1, len(axes), figsize=(4.6 * len(axes), 4), squeeze=False)
    for panel, axis in zip(panels[0], axes, strict=True):
        xs = sorted(setting.value(axis) for setting in axis_settings(result, axis))
        draw_estimates(panel, result, axis)
        if result.law is not None and axis in result.law.axes:
            label = f"law, exponent {result.exponent(axis).centre:+.2f}"
            panel.plot(*law_line(result, axis), "-", color="C0", label=label)
        held_out = result.checks[axis]
        with_interval(panel, held_out.setting.value(axis), held_out.predicted, "D", "C3", "held out, predicted")
        draw_rules(panel, result, axis, xs)
        draw_target(panel, result, axis)
        panel.set(xscale="log", xlabel=LABELS[axis], ylabel=f"log10 λ* ({result.method})", title=f"λ* against {axis}")
        panel.set_xticks(xs, [f"{x:g}" for x in xs], minor=False)
        panel.xaxis.set_minor_formatter(NullFormatter())
        panel.grid(alpha=0.3)
        panel.legend(fontsize=6)
    seeds = "95% intervals over seeds" if len(result.seeds) > 1 else "one seed: no intervals"
    figure.suptitle(f"{result.task}, {result.method}: best λ along each axis ({seeds})", fontsize=10)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def draw_target(panel: Panel, result: Transfer, axis: str) -> None:
    """The ``--to`` target along ``axis``: its predicted λ where the advice stands, else a line that says none."""
    target = result.target.setting if result.target is not None else None
    if target is None or target.value(axis) == result.axes.base.value(axis):
        return
    advice = advise(result)
    if advice.passed:
        with_interval(panel, target.value(axis), advice.predicted, "*", "C1", "target, predicted")
    else:
        panel.axvline(target.value(axis), color="C1", linestyle="--", label="target (no advice: see the report)")


def draw_estimates(panel: Panel, result: Transfer, axis: str) -> None:
    """The measured λ* of the settings on ``axis`` (the held-out one as a square); where a setting has no interior
    λ*, its best point, marked by why."""
    held_out = result.checks[axis].setting
    for setting in (s for s in result.estimates if s in axis_settings(result, axis)):
        estimate = result.estimates[setting]
        if not estimate.interior:
            marker = NOT_INTERIOR.get(estimate.kind, "x")
            panel.plot(setting.value(axis), estimate.best, marker, color="0.4", mfc="none")
            panel.plot([], [], marker, color="0.4", mfc="none", label=f"best point, {estimate.kind}")
        elif setting == held_out:
            with_interval(panel, setting.value(axis), interior_value(estimate), "s", "C3", "held out, measured")
        else:
            with_interval(panel, setting.value(axis), interior_value(estimate), "o", "C0", None)


def draw_rules(panel: Panel, result: Transfer, axis: str, xs: list[float]) -> None:
    """Each published rule's exponent along ``axis`` as a line through the base setting's λ* (if interior)."""
    base, convention = result.estimates.get(result.axes.base), METHODS[result.method].units
    if base is None or not base.interior or convention not in ("paper", "torch"):
        return
    x0 = result.axes.base.value(axis)
    for number, rule in enumerate(RULES):
        predicted = rule.exponent(axis, convention)
        if predicted is not None:
            line = [base.log_lambda + predicted * math.log10(x / x0) for x in xs]
            panel.plot(xs, line, ":", color=f"C{number + 2}", label=f"{rule.name} ({predicted:+g})")


def with_interval(panel: Panel, x: float, value: Value, marker: str, color: str, label: str | None) -> None:
    """A point with its 95% interval (none where it has none; nothing where it is NaN)."""
    if not math.isfinite(value.centre):
        return
    error = [[value.centre - value.low], [value.high - value.centre]] if value.has_interval else None
    face = "none" if marker == "D" else color
    panel.errorbar(x, value.centre, yerr=error, fmt=marker, color=color, mfc=face, capsize=3, label=label)


def law_line(result: Transfer, axis: str, points: int = 50) -> tuple[list[float], list[float]]:
    """The law along ``axis`` as drawn: its prediction, from the smallest value measured to the largest or the
    target, whichever lies further."""
    assert result.law is not None
    values = [*result.axes.values[axis], *([result.target.setting.value(axis)] if result.target else [])]
    low, high = math.log10(min(values)), math.log10(max(values))
    xs = [10 ** (low + (high - low) * i / (points - 1)) for i in range(points)]
    # between the measured values (not whole numbers: points on the law, not settings to train)
    moved: list[dict[str, Any]] = [{axis: x} for x in xs]
    return xs, [result.law.predict(replace(result.axes.base, **point)).centre for point in moved]


def axis_settings(result: Transfer, axis: str) -> list[Setting]:
    return [result.axes.base.moved(axis, value) for value in result.axes.values[axis]]
