"""``OUT/transfer.md``: the λ to use at the target, the law it rests on beside the published rules, and the
held-out check; with ``transfer.png`` (λ* along each axis) and ``transfer.csv`` (one row per setting)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from decaylab.analysis.export import spreadsheet_safe
from decaylab.analysis.transfer_figure import draw_axes
from decaylab.lab.optimum import interior_value
from decaylab.lab.statistics import MIN_SEEDS, Value, sign_of
from decaylab.lab.transfer.advice import Advice, advise, paste_lines
from decaylab.lab.transfer.axes import AXES, LABELS
from decaylab.lab.transfer.laws import in_units
from decaylab.lab.transfer.measure import Transfer
from decaylab.lab.transfer.rules import RULES
from decaylab.optim import METHODS
from decaylab.optim.groups import DECAYED_OPTIONS

REPORT, FIGURE, TABLE = "transfer.md", "transfer.png", "transfer.csv"
UNIT_NAMES = {"paper": "λ paper", "torch": "λ torch", "τ_iter": "τ_iter", "τ_epoch": "τ_epoch", "own": "λ"}


def units_of(method: str) -> str:
    """What a method's λ means, as its record says it (without the record's leading ``λ:``)."""
    return METHODS[method].decay_units.removeprefix("λ: ")


def interval(value: Value, digits: int = 2) -> str:
    if not math.isfinite(value.centre):
        return "—"
    shown = f"{value.centre:+.{digits}f}"
    return shown + (f" [{value.low:+.{digits}f}, {value.high:+.{digits}f}]" if value.has_interval else " (no interval)")


def write_transfer_report(result: Transfer, out: Path) -> Path:
    """Write ``transfer.md``, ``transfer.png`` and ``transfer.csv`` into ``out``; return the report's path."""
    draw_axes(result, out / FIGURE)
    write_rows(result, out / TABLE)
    (out / REPORT).write_text(markdown(result))
    return out / REPORT


def markdown(result: Transfer) -> str:
    method = METHODS[result.method]
    seeds = len(result.seeds)
    advice = advise(result)
    lines = [f"# Which λ at my scale? {result.task}, {result.method}", ""]
    if result.quick:
        lines += [f"**{SMOKE}**", ""]
    lines += [*verdict_section(result, advice), *target_section(result, advice), *base_lr_section(result)]
    lines += [
        "## How it was measured",
        "",
        f"{method.description}; λ means {units_of(result.method)}. Selected on validation {result.metric} "
        f"({'higher' if result.higher_is_better else 'lower'} is better), {seeds} seeds; base setting "
        f"{result.axes.base}. λ* is searched in rounds at each setting (a bracket of decades, or of half "
        "decades around a held-out setting's prediction, grown at an edge, then half- and quarter-decade points), "
        "estimated seed by seed; only an interior λ* enters the law (not one at an edge, at a stability edge, or on "
        "a flat curve).",
        "",
        *([groups_sentence(result.practice, method.family == "muon"), ""] if result.practice else []),
        f"{COVERAGE}{'' if seeds >= MIN_SEEDS else ' None here: fewer than 3 seeds.'}",
        "",
    ]
    lines += law_section(result)
    lines += rules_section(result)
    lines += check_section(result)
    lines += [
        "## λ* at every setting",
        "",
        f"![log10 λ* along each axis]({FIGURE})",
        "",
        "| setting | log10 λ* (95% interval) | λ* | points searched | kind |",
        "|---|---|---|---|---|",
    ]
    for setting, one in result.searches.items():
        estimate = result.estimates.get(setting)
        value = interior_value(estimate)
        shown = f"{10**value.centre:.3g}" if math.isfinite(value.centre) else "—"
        kind = estimate.kind if estimate is not None else NO_ESTIMATE
        lines.append(f"| {setting} | {interval(value)} | {shown} | {len(one.scores)} | {kind} |")
    lines += ["", f"Every run is in `results.sqlite` (`decaylab export DIR`); one row per setting in `{TABLE}`.", ""]
    return "\n".join(lines)


NO_ESTIMATE = "every run diverged"
SMOKE = "A smoke run (--quick): small axes and few seeds check the plumbing; its numbers are not advice."
COVERAGE = (
    "What the 95% intervals cover: Student's t over the seeds, and a seed draws the initialization, the batch order "
    "and the training subset (below the pool's full size). Every seed shares one validation split and one test "
    "split, and where a setting trains on the whole pool every seed trains on the same examples: the intervals do "
    "not cover another validation split or another draw of the pool. A prediction's interval adds the measurement's "
    "own seed noise, the power law's misfit and the distance from the data, and is never narrower than the seeds' "
    "own predictions."
)


def verdict_section(result: Transfer, advice: Advice) -> list[str]:
    lines = ["## Verdict", "", advice.headline, ""]
    if not advice.passed:
        lines += ["No λ to use: this law is not advice. Instead:", "", *(f"- {step}" for step in advice.instead), ""]
    return lines


def summary(result: Transfer) -> str:
    """The advice in a few lines: a smoke run's mark, the verdict, then the λ to use or what to do instead."""
    advice = advise(result)
    lines = [SMOKE] if result.quick else []
    lines.append(advice.headline)
    if advice.passed and advice.target is not None:
        lines += [use_line(result, advice), *paste_lines(result.method, advice.target.lr, 10**advice.predicted.centre)]
    elif advice.passed:
        lines.append("Give --to AXIS=VALUE for the λ to use at your scale.")
    else:
        lines += [f"- {step}" for step in advice.instead]
    return "\n".join(lines)


def use_line(result: Transfer, advice: Advice) -> str:
    """The λ to use at the target, its interval, units, and how far past the data it lies."""
    assert advice.target is not None
    predicted = advice.predicted
    bounds = (
        f" (95% prediction interval {10**predicted.low:.3g} to {10**predicted.high:.3g})"
        if predicted.has_interval
        else " (no interval)"
    )
    past = "; ".join(
        f"{LABELS[a]} {abs(d):.2f} decades {'past' if d > 0 else 'below'} the data" for a, d in advice.reach.items()
    )
    where = f", extrapolated: {past}" if past else ", inside the measured range"
    return f"The λ to use at {advice.target}: λ = {10**predicted.centre:.3g}{bounds}, {units_of(result.method)}{where}."


UNDECAYED = {
    "task": "biases and normalization layers undecayed, or as the task says",
    "all": "every parameter decayed",
    "matrices": "biases and normalization layers undecayed",
    "matrices-no-embeddings": "biases, normalization layers and embedding tables undecayed",
}
"""What each ``decayed`` practice leaves undecayed, in words."""


def groups_sentence(practice: dict[str, Any], muon: bool) -> str:
    """The ``params`` the advice's lines take, as the runs had them: ``param_groups`` with the transfer's practice
    (:class:`~decaylab.lab.practice.Practice`), and λ's own schedule where it had one."""
    decayed = practice.get("decayed", "task")
    options = "".join(f", {name}={value}" for name, value in DECAYED_OPTIONS.get(decayed, {}).items())
    options += ", muon=True" if muon else ""
    options += "".join(f", {name}={practice[name]:g}" for name in ("adam_lr", "adam_weight_decay") if name in practice)
    directions = "; matrices orthogonalized, embeddings and the rest on Adam's direction" if muon else ""
    sentence = (
        f"`params`: as decaylab's runs had them, `decaylab.optim.param_groups(model, λ{options})` "
        f"({UNDECAYED[decayed]}{directions}), not `model.parameters()`."
    )
    if "decay_schedule" in practice:
        sentence += (
            f" λ follows its own {practice['decay_schedule']} schedule to 0 beside the lr's: step "
            f"`decaylab.optim.WeightDecaySchedule(optimizer, {practice['decay_schedule']!r}, total_steps)` with the "
            "optimizer (torch's optimizers have none: set each group's weight_decay each step)."
        )
    if "ns_dtype" in practice:
        sentence += (
            f" Muon's Newton–Schulz computed in {practice['ns_dtype']}: give `make_optimizer` "
            f"`ns_dtype={practice['ns_dtype']!r}` (torch.optim.Muon computes in bfloat16)."
        )
    return sentence


def target_section(result: Transfer, advice: Advice) -> list[str]:
    target = result.target
    if target is None:
        return []
    if not advice.passed:
        return ["## The λ to use", "", f"None at {target.setting}: the law failed its held-out check (above).", ""]
    method = METHODS[result.method]
    own, lr = 10**advice.predicted.centre, target.setting.lr
    lines = ["## The λ to use", "", use_line(result, advice)]
    if method.units in ("paper", "torch"):
        paper = own if method.units == "paper" else own * lr
        lines.append(f"In the other convention: λ_paper = {paper:.3g}, λ_torch = λ_paper/α = {paper / lr:.3g}.")
        if paper >= 1:
            lines.append(
                f"**Beyond the law's reach**: a decay of {paper:.3g} per step makes the shrink 1 − λ ≤ 0, so the "
                "weights would change sign every step. The law was extrapolated too far: measure closer to this target."
            )
    lines += ["", "```python", *paste_lines(result.method, lr, own), "```", ""]
    lines += [
        groups_sentence(result.practice, method.family == "muon"),
        f"It rests on the law below, fitted on {len(result.law.settings) if result.law else 0} settings.",
    ]
    if target.measured is not None:
        measured = interior_value(target.measured)
        lines.append(
            f"Measured at the target (`--verify`): log10 λ* = {interval(measured)}, "
            f"{difference(advice.predicted, measured)}; regret {regret_text(target.regret, result)}."
        )
    return [*lines, ""]


def base_lr_section(result: Transfer) -> list[str]:
    chosen = result.base_lr
    if chosen.given:
        return ["## The base α", "", f"α = {chosen.lr:g}, given with --lr.", ""]
    middle, smallest = (f"{10**x:.3g}" for x in chosen.log_lambdas)
    lines = [
        "## The base α",
        "",
        f"α = {chosen.lr:g}, found on the data: each α of the method's grid trained at the base setting (seed "
        f"{0}) at λ = {middle} (the middle of its λ grid) and at λ = {smallest} (its smallest); the base is the "
        "largest α that trained stably at both and scored within the metric's noise floor of the best at the "
        "middle. A learning rate that needs decay to stay stable would make λ* a stability limit; one far too "
        "small stops training early, which regularizes by itself. `--lr` sets it instead.",
        "",
        f"| α | validation {result.metric} at λ = {middle} | stable at both λ |",
        "|---|---|---|",
    ]
    sign = sign_of(result.higher_is_better)
    for lr, (value, stable) in chosen.scan.items():
        shown = f"{sign * value:.4g}" if math.isfinite(value) else "—"
        lines.append(f"| {lr:g}{' (chosen)' if lr == chosen.lr else ''} | {shown} | {'yes' if stable else 'no'} |")
    return [*lines, ""]


def law_section(result: Transfer) -> list[str]:
    convention = METHODS[result.method].units
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
        shown = in_units(result.exponent(axis), axis, convention)
        lines.append(
            f"| {LABELS[axis]} | {', '.join(f'{v:g}' for v in values)} | "
            + " | ".join(interval(shown[u]) for u in units)
            + " |"
        )
    return [*lines, ""]


def rules_section(result: Transfer) -> list[str]:
    convention = METHODS[result.method].units
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
        f"Each rule's predicted exponent of log λ* in the {convention} convention, beside the measured one, and "
        "what it says of two axes together (Power Lines: λ* depends on N and T only through D = N·T, so their "
        "exponents are equal, whatever its fitted power): **rejected** where the prediction lies outside the "
        "measured 95% interval. A rule is rejected if any of its predictions is; consistent if every one it "
        "makes here is; — where it predicts nothing on an axis (its notes say why).",
        "",
        "| rule | source | states | " + " | ".join(LABELS[a] for a in axes) + " | two axes | verdict |",
        "|---|---|---|" + "---|" * len(axes) + "---|---|",
        "| **measured** | this run | | " + " | ".join(interval(result.exponent(a)) for a in axes) + " | | |",
    ]
    rejected = []
    for rule in RULES:
        cells, tested, failed = [], 0, []
        for axis in axes:
            predicted = rule.exponent(axis, convention)
            shown, consistent = judged(predicted, result.exponent(axis))
            cells.append(shown)
            tested += consistent is not None
            failed += [LABELS[axis]] if consistent is False else []
        relations = []
        for relation in rule.relations:
            if relation.first not in axes or relation.second not in axes:
                relations.append(f"b_{relation.first} − b_{relation.second}: not measured")
                continue
            measured = result.law.difference(relation.first, relation.second) if result.law else Value(math.nan)
            shown, consistent = judged(relation.difference, measured)
            relations.append(f"b_{relation.first} − b_{relation.second} = {shown}, measured {interval(measured)}")
            tested += consistent is not None
            failed += [f"{relation.first} with {relation.second}"] if consistent is False else []
        verdict = "**rejected** (" + ", ".join(failed) + ")" if failed else "consistent" if tested else "not tested"
        rejected += [f"{rule.name} ({', '.join(failed)})"] if failed else []
        lines.append(
            f"| {rule.name} | {rule.source} | {rule.formula} | "
            + " | ".join(cells)
            + f" | {'; '.join(relations) or '—'} | {verdict} |"
        )
    notes = [f"- {rule.name}: {rule.note}" for rule in RULES if rule.note]
    verdict = "The data reject " + "; ".join(rejected) + "." if rejected else "The data reject no rule's prediction."
    return [*lines, "", verdict, "", *notes, ""]


def judged(predicted: float | None, measured: Value) -> tuple[str, bool | None]:
    """A predicted number beside a measured interval: its cell, and whether it is consistent (None: untested)."""
    if predicted is None:
        return "—", None
    if not measured.has_interval:
        return f"{predicted:+g}", None
    if measured.contains(predicted):
        return f"{predicted:+g} (consistent)", True
    return f"{predicted:+g} **rejected**", False


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
        measured = interior_value(check.measured)
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


def rows(result: Transfer) -> list[dict[str, Any]]:
    """One row per setting searched, as the report lists them: its values, λ* with its interval, its kind and its
    per-seed estimates (empty where it has no estimate: every run diverged)."""
    table = []
    for setting in result.searches:
        estimate = result.estimates.get(setting)
        role = next((a for a, c in result.checks.items() if c.setting == setting), "")
        measured: dict[str, Any] = {"log10_lambda": None, "low": None, "high": None, "lambda": None}
        if estimate is not None:
            measured = {"log10_lambda": estimate.log_lambda, "low": estimate.low, "high": estimate.high}
            measured["lambda"] = 10**estimate.log_lambda
        table.append(
            {
                "task": result.task,
                "method": result.method,
                **{axis: setting.trained(axis) for axis in AXES},
                "held_out_on": role,
                **measured,
                "lambda_units": METHODS[result.method].decay_units,
                "kind": estimate.kind if estimate is not None else NO_ESTIMATE,
                "seeds": len(estimate.per_seed) if estimate is not None else 0,
                **{f"seed_{seed}": value for seed, value in (estimate.per_seed if estimate else {}).items()},
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
