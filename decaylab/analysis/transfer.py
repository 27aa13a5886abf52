"""``OUT/transfer.md``: the λ to use at the target, the law it rests on beside the published rules, and the
held-out check; with ``transfer.png`` (λ* along each axis) and ``transfer.csv`` (one row per setting)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from decaylab.analysis.export import spreadsheet_safe
from decaylab.lab.optimum import Estimate
from decaylab.lab.statistics import MIN_SEEDS, Value
from decaylab.lab.transfer.axes import LABELS, Setting
from decaylab.lab.transfer.laws import in_units
from decaylab.lab.transfer.measure import Check, Transfer
from decaylab.lab.transfer.rules import RULES
from decaylab.optim import METHODS

REPORT, FIGURE, TABLE = "transfer.md", "transfer.png", "transfer.csv"
UNIT_NAMES = {"paper": "λ paper", "torch": "λ torch", "τ_iter": "τ_iter", "τ_epoch": "τ_epoch", "own": "λ"}
TORCH_LINES = {
    "adamw": "torch.optim.AdamW(params, lr={lr:g}, weight_decay={torch:.3g})",
    "adamw-torch": "torch.optim.AdamW(params, lr={lr:g}, weight_decay={torch:.3g})",
    "adaml2": "torch.optim.Adam(params, lr={lr:g}, weight_decay={own:.3g})",
    "sgdl2": "torch.optim.SGD(params, lr={lr:g}, momentum=0.9, weight_decay={own:.3g})",
}
"""The line to paste, where a torch optimizer computes exactly the method's update."""


def units_of(method: str) -> str:
    """What a method's λ means, as its record says it (without the record's leading ``λ:``)."""
    return METHODS[method].decay_units.removeprefix("λ: ")


def interval(value: Value, digits: int = 2) -> str:
    if not math.isfinite(value.centre):
        return "—"
    shown = f"{value.centre:+.{digits}f}"
    return shown + (f" [{value.low:+.{digits}f}, {value.high:+.{digits}f}]" if value.has_interval else " (no interval)")


def estimate_value(estimate: Estimate | None) -> Value:
    if estimate is None or not estimate.interior:
        return Value(math.nan)
    return Value(estimate.log_lambda, estimate.low, estimate.high)


def write_transfer_report(result: Transfer, out: Path) -> Path:
    """Write ``transfer.md``, ``transfer.png`` and ``transfer.csv`` into ``out``; return the report's path."""
    draw_axes(result, out / FIGURE)
    write_rows(result, out / TABLE)
    (out / REPORT).write_text(markdown(result))
    return out / REPORT


def markdown(result: Transfer) -> str:
    method = METHODS[result.method]
    seeds = len(result.seeds)
    lines = [
        f"# Which λ at my scale? {result.task}, {result.method}",
        "",
        f"{method.description}; λ means {units_of(result.method)}. Selected on validation {result.metric} "
        f"({'higher' if result.higher_is_better else 'lower'} is better), {seeds} seeds; base setting "
        f"{result.axes.base}. λ* is searched in rounds at each setting (a bracket of decades, grown at an "
        "edge, then half- and quarter-decade points), estimated seed by seed, with a 95% interval from "
        f"Student's t over the seeds{'' if seeds >= MIN_SEEDS else ' (none here: fewer than 3 seeds)'}.",
        "",
    ]
    if result.target is not None:
        lines += target_section(result, result.target)
    lines += law_section(result)
    lines += rules_section(result)
    lines += check_section(result)
    lines += [
        "## λ* at every setting",
        "",
        f"![log10 λ* along each axis]({FIGURE})",
        "",
        "| setting | log10 λ* (95% interval) | λ* | points searched | interior |",
        "|---|---|---|---|---|",
    ]
    for setting, one in result.searches.items():
        estimate = result.estimates.get(setting)
        value = estimate_value(estimate)
        shown = f"{10**value.centre:.3g}" if math.isfinite(value.centre) else "—"
        interior = "yes" if estimate is not None and estimate.interior else "no: at the edge"
        lines.append(f"| {setting} | {interval(value)} | {shown} | {len(one.scores)} | {interior} |")
    lines += ["", f"Every run is in `results.sqlite` (`decaylab export DIR`); one row per setting in `{TABLE}`.", ""]
    return "\n".join(lines)


def target_section(result: Transfer, target: Check) -> list[str]:
    method = METHODS[result.method]
    predicted = target.predicted
    lines = ["## The λ to use", ""]
    if not math.isfinite(predicted.centre):
        return [*lines, "No prediction: the law could not be fitted (see below).", ""]
    own = 10**predicted.centre
    low, high = (10**predicted.low, 10**predicted.high) if predicted.has_interval else (math.nan, math.nan)
    bounds = f" (95% interval {low:.3g} to {high:.3g})" if predicted.has_interval else " (no interval)"
    lines.append(f"At **{target.setting}**: λ = **{own:.3g}**{bounds}, {units_of(result.method)}.")
    values = {"own": own, "lr": target.setting.lr}
    if method.convention in ("paper", "torch"):
        paper = own if method.convention == "paper" else own * target.setting.lr
        values |= {"paper": paper, "torch": paper / target.setting.lr}
        lines.append(
            f"In the other convention: λ_paper = {paper:.3g}, λ_torch = λ_paper/α = {paper / target.setting.lr:.3g}."
        )
    decay_per_step = values.get("paper", own if method.convention == "paper" else math.nan)
    if decay_per_step >= 1:
        lines.append(
            f"**Beyond the law's reach**: a decay of {decay_per_step:.3g} per step makes the shrink 1 − λ ≤ 0, so the "
            "weights would change sign every step. The law was extrapolated too far: measure closer to this target."
        )
    muon = ", muon=True" if method.family == "muon" else ""
    directions = "; matrices orthogonalized, embeddings and the rest on Adam's direction" if muon else ""
    lines += [
        "",
        "```python",
        f"decaylab.optim.make_optimizer({result.method!r}, params, lr={target.setting.lr:g}, weight_decay={own:.3g})",
    ]
    if result.method in TORCH_LINES:
        lines.append(TORCH_LINES[result.method].format(**values) + "  # the same update in torch")
    lines += [
        "```",
        "",
        f"`params`: as decaylab's runs had them, `decaylab.optim.param_groups(model, λ{muon})` (biases and "
        f"normalization layers undecayed{directions}), not `model.parameters()`.",
        f"It rests on the law below, fitted on {len(result.law.settings) if result.law else 0} settings.",
    ]
    if target.measured is not None:
        measured = estimate_value(target.measured)
        lines.append(
            f"Measured at the target (`--verify`): log10 λ* = {interval(measured)}, "
            f"{difference(predicted, measured)}; regret {regret_text(target.regret, result)}."
        )
    return [*lines, ""]


def law_section(result: Transfer) -> list[str]:
    convention = METHODS[result.method].convention
    units = list(in_units(Value(0.0), "N", convention))
    lines = [
        "## The law",
        "",
        "Along each axis, log10 λ* = a + b·log10(x / x_base), fitted seed by seed on that axis's settings whose λ* "
        "is interior (the held-out largest value included); each exponent b with its 95% interval over seeds, in "
        "each unit (the timescales of the weights' average: τ_iter = 1/λ_paper steps, τ_epoch = B/(N·λ_paper) "
        "epochs). A target that moves several axes adds their effects.",
        "",
        "| axis | values (held out last) | " + " | ".join(f"exponent of {UNIT_NAMES[u]}" for u in units) + " |",
        "|---|---|" + "---|" * len(units),
    ]
    for axis, values in result.axes.values.items():
        exponent = result.law.exponent(axis) if result.law else Value(math.nan)
        shown = in_units(exponent, axis, convention)
        lines.append(
            f"| {LABELS[axis]} | {', '.join(f'{v:g}' for v in values)} | "
            + " | ".join(interval(shown[u]) for u in units)
            + " |"
        )
    return [*lines, ""]


def rules_section(result: Transfer) -> list[str]:
    convention = METHODS[result.method].convention
    if convention not in ("paper", "torch"):
        return [
            "## The published rules",
            "",
            f"They are stated for decoupled decay; {result.method}'s λ is a "
            "penalty in the loss, so they are not compared.",
            "",
        ]
    axes = list(result.axes.values)
    lines = [
        "## The published rules",
        "",
        f"Each rule's predicted exponent of log λ* in the {convention} convention, beside the measured one: "
        "**rejected** where the prediction lies outside the measured 95% interval.",
        "",
        "| rule | source | states | " + " | ".join(LABELS[a] for a in axes) + " |",
        "|---|---|---|" + "---|" * len(axes),
        "| **measured** | this run | | "
        + " | ".join(interval(result.law.exponent(a) if result.law else Value(math.nan)) for a in axes)
        + " |",
    ]
    rejected = []
    for rule in RULES:
        cells = []
        for axis in axes:
            predicted = rule.exponent(axis, convention)
            measured = result.law.exponent(axis) if result.law else Value(math.nan)
            if predicted is None:
                cells.append("—")
            elif not measured.has_interval:
                cells.append(f"{predicted:+g}")
            elif measured.contains(predicted):
                cells.append(f"{predicted:+g} (consistent)")
            else:
                cells.append(f"{predicted:+g} **rejected**")
                rejected.append(f"{rule.name} on {LABELS[axis]}")
        lines.append(f"| {rule.name} | {rule.source} | {rule.formula} | " + " | ".join(cells) + " |")
    notes = [f"- {rule.name}: {rule.note}" for rule in RULES if rule.note]
    verdict = "The data reject " + "; ".join(rejected) + "." if rejected else "The data reject no rule's prediction."
    return [*lines, "", verdict, "", *notes, ""]


def check_section(result: Transfer) -> list[str]:
    scale = "points" if result.metric == "accuracy" else result.metric
    lines = [
        "## Checked on held-out settings",
        "",
        "The largest value of each axis was left out of the fit, predicted by the law fitted on the others, "
        "then measured; the predicted λ was trained there too. Regret: the test "
        f"{result.metric} lost by training at the predicted λ instead of the measured best point ({scale}).",
        "",
        "| axis | held-out setting | predicted log10 λ* | measured log10 λ* | predicted − measured | regret |",
        "|---|---|---|---|---|---|",
    ]
    for axis, check in result.checks.items():
        measured = estimate_value(check.measured)
        lines.append(
            f"| {LABELS[axis]} | {check.setting} | {interval(check.predicted)} | {interval(measured)} | "
            f"{difference(check.predicted, measured)} | {regret_text(check.regret, result)} |"
        )
    return [*lines, ""]


def difference(predicted: Value, measured: Value) -> str:
    gap = predicted.centre - measured.centre
    return f"{gap:+.2f} decades" if math.isfinite(gap) else "—"


def regret_text(regret: Value, result: Transfer) -> str:
    factor = 100.0 if result.metric == "accuracy" else 1.0
    if regret.centre == math.inf:
        return "the predicted λ diverged"
    if not math.isfinite(regret.centre):
        return "—"
    scaled = Value(factor * regret.centre, factor * regret.low, factor * regret.high)
    return interval(scaled, 2 if factor == 100.0 else 3)


def draw_axes(result: Transfer, path: Path) -> None:
    """One panel per axis: the measured λ* with their intervals, the law, the rules' lines through the base
    point, and the held-out point with its prediction."""
    axes = list(result.axes.values)
    convention = METHODS[result.method].convention
    figure, panels = plt.subplots(1, len(axes), figsize=(4.6 * len(axes), 4), squeeze=False)
    base = result.estimates.get(result.axes.base)
    for panel, axis in zip(panels[0], axes, strict=True):
        held_out = result.checks[axis].setting
        on_axis = [s for s in result.estimates if s in axis_settings(result, axis)]
        for setting in on_axis:
            value = estimate_value(result.estimates[setting])
            if not math.isfinite(value.centre):
                continue
            marker = "s" if setting == held_out else "o"
            error = [[value.centre - value.low], [value.high - value.centre]] if value.has_interval else None
            panel.errorbar(
                setting.value(axis),
                value.centre,
                yerr=error,
                fmt=marker,
                color="C0" if marker == "o" else "C3",
                capsize=3,
                label="held out, measured" if marker == "s" else None,
            )
        xs = sorted(setting.value(axis) for setting in axis_settings(result, axis))
        if result.law is not None and axis in result.law.axes:
            line = [result.law.predict(result.axes.base.moved(axis, x)).centre for x in xs]
            panel.plot(xs, line, "-", color="C0", label=f"law, exponent {result.law.exponent(axis).centre:+.2f}")
        predicted = result.checks[axis].predicted
        if math.isfinite(predicted.centre):
            error = (
                [[predicted.centre - predicted.low], [predicted.high - predicted.centre]]
                if predicted.has_interval
                else None
            )
            panel.errorbar(
                held_out.value(axis),
                predicted.centre,
                yerr=error,
                fmt="D",
                mfc="none",
                color="C3",
                capsize=3,
                label="held out, predicted",
            )
        if base is not None and base.interior and convention in ("paper", "torch"):
            x0 = result.axes.base.value(axis)
            for number, rule in enumerate(RULES):
                exponent = rule.exponent(axis, convention)
                if exponent is not None:
                    rule_line = [base.log_lambda + exponent * math.log10(x / x0) for x in xs]
                    panel.plot(xs, rule_line, ":", color=f"C{number + 2}", label=f"{rule.name} ({exponent:+g})")
        panel.set(xscale="log", xlabel=LABELS[axis], ylabel=f"log10 λ* ({result.method})", title=f"λ* against {axis}")
        panel.set_xticks(xs, [f"{x:g}" for x in xs], minor=False)
        panel.xaxis.set_minor_formatter(NullFormatter())
        panel.grid(alpha=0.3)
        panel.legend(fontsize=6)
    figure.suptitle(f"{result.task}, {result.method}: best λ along each axis (95% intervals over seeds)", fontsize=10)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def axis_settings(result: Transfer, axis: str) -> list[Setting]:
    return [result.axes.base.moved(axis, value) for value in result.axes.values[axis]]


def rows(result: Transfer) -> list[dict[str, Any]]:
    """One row per setting: its values, λ* with its interval and its per-seed estimates."""
    table = []
    for setting, estimate in result.estimates.items():
        role = next((a for a, c in result.checks.items() if c.setting == setting), "")
        table.append(
            {
                "task": result.task,
                "method": result.method,
                "N": setting.N,
                "epochs": setting.epochs,
                "batch": setting.batch,
                "lr": setting.lr,
                "width": setting.width,
                "held_out_on": role,
                "log10_lambda": estimate.log_lambda,
                "low": estimate.low,
                "high": estimate.high,
                "lambda": 10**estimate.log_lambda,
                "lambda_units": METHODS[result.method].decay_units,
                "interior": estimate.interior,
                "seeds": len(estimate.per_seed),
                **{f"seed_{seed}": value for seed, value in estimate.per_seed.items()},
            }
        )
    return table


def write_rows(result: Transfer, path: Path) -> None:
    table = rows(result)
    columns = list(dict.fromkeys(column for row in table for column in row))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(spreadsheet_safe(row) for row in table)
