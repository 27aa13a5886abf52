"""``OUT/report.md``: the study's heatmaps, learning curves and best cells, from the store alone."""

from __future__ import annotations

import errno
import math
from pathlib import Path
from typing import Any

from decaylab.analysis.cells import MethodGrid, MetricScale, method_grids
from decaylab.analysis.figures import draw_heatmaps, draw_learning_curves, format_value
from decaylab.analysis.ridges import decay_ridge, seeds_of, slope_interval
from decaylab.lab.errors import RunFailure, UsageError
from decaylab.lab.practice import Practice
from decaylab.lab.store import ResultStore
from decaylab.lab.study import StudySpec
from decaylab.optim import METHODS

HEATMAPS, CURVES, REPORT = "heatmaps.png", "curves.png", "report.md"


def latest_runs(store: ResultStore) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The latest study's specification and its stored runs (its grid, task, length and schedule)."""
    spec = store.latest_study()
    if spec is None:
        where = store.path.parent
        if store.finished_keys():  # runs of `claims` or `transfer`, which record no grid
            raise UsageError(
                f"{where} holds runs but no `decaylab study` grid (claims or transfer runs?): "
                f"`decaylab export {where}` lists them all"
            )
        raise UsageError(f"{where} holds no study yet: run decaylab study --out {where}")
    grid = StudySpec(**{name: spec[name] for name in ("methods", "lrs", "weight_decays", "seeds")})
    practice, configs = practice_of(spec), store.configs()
    runs = [
        run
        for run in store.runs()
        if run["task"] == spec["task_identity"]
        and run["epochs"] == spec["epochs"]
        and run["schedule"] == spec["schedule"]
        and run["warmup"] == spec["warmup"]
        and run["method"] in grid.methods
        and run["lr"] in grid.lrs_of(run["method"])
        and run["weight_decay"] in grid.weight_decays_of(run["method"])
        and run["seed"] < grid.seeds
        and practice.of_run(configs[run["key"]])
    ]
    return spec, runs


def practice_of(spec: dict[str, Any]) -> Practice:
    """A recorded study's practice (the usual one for a study recorded before practices were)."""
    return Practice(**spec.get("practice", {}))


def write_report(out: Path, to: Path | None = None) -> Path:
    """Draw the figures and write the report of the latest study stored in ``out`` into ``to`` (default
    ``out``), reading the store only: results on read-only storage can be reported elsewhere."""
    to = to or out
    store = ResultStore(out, read_only=True)
    try:
        spec, runs = latest_runs(store)
        grids = [grid for grid in method_grids(runs, spec["methods"]) if grid.cells]
        if not grids:
            raise UsageError(f"{out} holds no finished run of its latest study yet: run it (again) to resume")
        scale = grids[0].scale
        title = f"{spec['task']}: {scale.label} after {_count(spec['epochs'], 'epoch')} ({spec['schedule']} schedule)"
        title += f", mean of {spec['seeds']} seeds" if spec["seeds"] > 1 else ", one seed"
        try:
            to.mkdir(parents=True, exist_ok=True)
            draw_heatmaps(grids, to / HEATMAPS, title)
            draw_learning_curves(grids, store.curves, to / CURVES, f"{spec['task']}: best cell of each method")
            (to / REPORT).write_text(_markdown(spec, grids, len(runs)))
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):  # the disk, not the folder asked for
                raise RunFailure(
                    f"cannot write the report into {to} ({error.strerror}); the runs are stored: make room, then "
                    f"`decaylab report {out}`"
                ) from None
            raise UsageError(f"cannot write the report into {to} ({error.strerror}); pass --to DIR") from None
    finally:
        store.close()
    return to / REPORT


def _missing(spec: dict[str, Any], stored: int) -> list[str]:
    """A line that says how many of the study's planned runs are not stored, if any, and how to finish them."""
    planned = StudySpec(**{name: spec[name] for name in ("methods", "lrs", "weight_decays", "seeds")}).size
    if stored >= planned:
        return []
    return [
        f"**{planned - stored} of {planned} planned runs are not stored yet** (stopped or still running): run the "
        "study's command again with the same `--out` to finish them; what follows shows the stored runs only.",
    ]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _markdown(spec: dict[str, Any], grids: list[MethodGrid], stored: int) -> str:
    scale = grids[0].scale
    metric_is_loss = scale.name == "loss"  # then the test metric is the test loss: one column
    seeds = spec["seeds"]
    spread = f"mean ± standard deviation over {seeds} seeds" if seeds > 1 else "one seed"
    lines = [
        f"# decaylab study: {spec['task']}",
        "",
        *_what_the_figure_shows(grids),
        f"{_count(len(grids), 'method')}, learning rates "
        f"{', '.join(format_value(lr) for lr in _all_lrs(grids))}, {_count(spec['epochs'], 'epoch')}, "
        f"{spec['schedule']} schedule"
        + (f" after {spec['warmup']:.0%} warm-up" if spec["warmup"] else "")
        + f", {_count(seeds, 'seed')}; {_count(stored, 'run')} stored."
        + (f" Practice: {described}." if (described := practice_of(spec).described()) else ""),
        *_missing(spec, stored),
        "Every method has its own λ axis, in the units of its convention (below). "
        f"Cells are compared on the {scale.selected_on} {scale.name} "
        f"({'higher' if scale.higher_is_better else 'lower'} is better); "
        f"the test {scale.name} is reported for the best.",
        "",
        f"![{scale.label} over learning rate and weight decay]({HEATMAPS})",
        "",
        "## Best cell of each method",
        "",
        f"{scale.name[:1].upper()}{scale.name[1:]}: {spread} (members of a seed share initialization and minibatches).",
        "",
        f"| method | rule | λ means | best α | best λ | {scale.selected_on} {scale.name} | test {scale.name} "
        + ("" if metric_is_loss else "| test loss ")
        + "| train loss | diverged / unstable cells |",
        "|---|---|---|---|---|---|---|" + ("" if metric_is_loss else "---|") + "---|---|",
    ]
    lines += [_best_cell_row(grid, scale, metric_is_loss) for grid in grids]
    lines += _references(spec, grids)
    lines += [
        "",
        "## Learning curves",
        "",
        f"![Learning curves of each method's best cell]({CURVES})",
        "",
        "## Best λ for each learning rate",
        "",
        "The ridge of each heatmap: if α and λ are decoupled, the best λ stays put as α changes.",
        "",
        "| method | " + " | ".join(f"α={format_value(lr)}" for lr in _all_lrs(grids)) + " |",
        "|---|" + "---|" * len(_all_lrs(grids)),
    ]
    lines += [_ridge_row(grid, scale, _all_lrs(grids)) for grid in grids if METHODS[grid.method].takes_weight_decay]
    lines.append("")
    return "\n".join(lines)


def _best_cell_row(grid: MethodGrid, scale: MetricScale, metric_is_loss: bool) -> str:
    """A method's row of the best-cell table: its best α and λ, their metrics, and its failed cells."""
    method = METHODS[grid.method]
    units = method.decay_units
    best = grid.best()
    cells = grid.cells.values()
    diverged = f"{sum(c.diverged for c in cells)} / {sum(c.status == 'unstable' for c in cells)} of {len(cells)}"
    if best is None:
        blanks = " — |" * (5 if metric_is_loss else 6)  # best α, best λ, the metrics, train loss
        return f"| {grid.method} | {method.description} | {units} |{blanks} {diverged} |"
    decay = format_value(best.weight_decay) if method.takes_weight_decay else "—"
    return (
        f"| {grid.method} | {method.description} | {units} | {format_value(best.lr)} | {decay} | "
        f"{scale.format(best.mean(), best.spread())} | "
        f"{scale.format(best.mean('test_metric'), best.spread('test_metric'))} | "
        + ("" if metric_is_loss else f"{best.mean('test_loss'):.4g} | ")
        + f"{best.mean('train_loss'):.4g} | {diverged} |"
    )


def _ridge_row(grid: MethodGrid, scale: MetricScale, lrs: list[float]) -> str:
    """A method's best λ at each learning rate, with its score (— where the grid has no such α)."""
    row = []
    for lr in lrs:
        best = grid.best_at(lr) if lr in grid.lrs else None
        row.append(f"{format_value(best.weight_decay)} ({scale.format(best.mean())})" if best else "—")
    return f"| {grid.method} | " + " | ".join(row) + " |"


def _what_the_figure_shows(grids: list[MethodGrid]) -> list[str]:
    """The post's Fig. 1 in words: each method's fitted slope of the best λ against what the post expects."""
    rows = []
    for grid in grids:
        coupling = METHODS[grid.method].coupling if grid.method in METHODS else None
        if coupling is None:
            continue
        fit = decay_ridge(grid)
        low, high, how = slope_interval(grid)
        if len(fit.log_lrs) < 3:
            rows.append(
                f"| {grid.method} | {_EXPECTED[coupling]} | {len(fit.log_lrs)} good columns: too few for a slope | — |"
            )
            continue
        if not math.isfinite(low):
            seeds = len(seeds_of(grid))
            columns = len(fit.log_lrs)
            shown = f"{fit.slope:+.2f} ({columns} columns; {seeds} seed(s): no 95% interval, `--seeds 3` gives one)"
            rows.append(f"| {grid.method} | {_EXPECTED[coupling]} | {shown} | — (needs 3 seeds) |")
            continue
        as_expected = low <= 0 <= high if coupling == "decoupled" else high < -0.5
        shown = f"{fit.slope:+.2f}, 95% interval [{low:+.2f}, {high:+.2f}] ({how}, {len(fit.log_lrs)} columns)"
        rows.append(f"| {grid.method} | {_EXPECTED[coupling]} | {shown} | {'yes' if as_expected else 'no'} |")
    if not rows:
        return []
    near = "5 points" if grids[0].scale.percent else "5%"
    return [
        "## What the figure shows",
        "",
        "Each panel is one method's held-out metric over learning rate α (x) and weight decay λ (y), the post's "
        "Fig. 1. Where α and λ are decoupled, the best λ stays put as α changes and the bright band lies flat; "
        "where they are coupled it runs diagonally down. The slope s = d log λ*/d log α is fitted through the "
        f"best λ of each learning-rate column where training works (within {near} of the best cell) and whose best "
        "λ lies inside the grid; "
        "`decaylab claims` tests it with more seeds.",
        "",
        "| method | the post expects | fitted slope s | as expected |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


_EXPECTED = {"decoupled": "flat: an interval containing 0", "coupled": "falling: an interval below −0.5"}


def _all_lrs(grids: list[MethodGrid]) -> list[float]:
    return sorted({lr for grid in grids for lr in grid.lrs})


def _references(spec: dict[str, Any], grids: list[MethodGrid]) -> list[str]:
    """The task's reference values of its metric, against the best cell of all methods."""
    scale: MetricScale = grids[0].scale
    best = [b for b in (grid.best() for grid in grids) if b is not None]
    if not spec.get("references") or not best:
        return []
    overall = max(best, key=lambda cell: scale.key(cell.mean()))
    lines = [
        "",
        f"Best cell overall: {overall.method}, {scale.selected_on} {scale.name} {scale.format(overall.mean())}.",
    ]
    for name, value in spec["references"]:
        change = (overall.mean() - value) / abs(value) if value else float("nan")
        lines.append(
            f"Reference, {name}: {scale.format(value)} (the best cell is {abs(change):.0%} "
            f"{'below' if change < 0 else 'above'} it)."
        )
    return lines
