"""``OUT/report.md``: the study's heatmaps, learning curves and best cells, from the store alone."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from decaylab.analysis.cells import MethodGrid, method_grids
from decaylab.analysis.figures import WEIGHT_DECAY_UNITS, draw_heatmaps, draw_learning_curves, format_value
from decaylab.lab.errors import UsageError
from decaylab.lab.store import ResultStore
from decaylab.optim import METHODS

HEATMAPS, CURVES, REPORT = "heatmaps.png", "curves.png", "report.md"


def write_report(out: Path) -> Path:
    """Draw the figures and write the report of the latest study stored in ``out``."""
    store = ResultStore(out, create=False)
    try:
        spec = store.latest_study()
        if spec is None:
            raise UsageError(f"{out} holds no study yet: run decaylab study --out {out}")
        runs = [
            run
            for run in store.runs()
            if run["task"] == spec["task_identity"]
            and run["epochs"] == spec["epochs"]
            and run["schedule"] == spec["schedule"]
            and run["method"] in spec["methods"]
            and run["lr"] in spec["lrs"]
            and run["seed"] < spec["seeds"]
        ]
        grids = [grid for grid in method_grids(runs, spec["methods"]) if grid.cells]
        title = f"{spec['task']}: test accuracy after {spec['epochs']} epochs ({spec['schedule']} schedule)"
        if spec["seeds"] > 1:
            title += f", mean of {spec['seeds']} seeds"
        draw_heatmaps(grids, out / HEATMAPS, title)
        draw_learning_curves(grids, store.curves, out / CURVES, f"{spec['task']}: best cell of each method")
        (out / REPORT).write_text(_markdown(spec, grids, len(runs)))
    finally:
        store.close()
    return out / REPORT


def _percent(mean: float, spread: float) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{100 * mean:.2f}" + (f" ± {100 * spread:.2f}" if math.isfinite(spread) else "")


def _markdown(spec: dict[str, Any], grids: list[MethodGrid], stored: int) -> str:
    seeds = spec["seeds"]
    lines = [
        f"# decaylab study: {spec['task']}",
        "",
        f"{len(grids)} methods, learning rates {', '.join(format_value(lr) for lr in spec['lrs'])}, "
        f"{spec['epochs']} epochs, {spec['schedule']} schedule, {seeds} seed(s); {stored} runs stored.",
        "Every method has its own λ axis, in the units of its convention (below).",
        "",
        f"![Test accuracy over learning rate and weight decay]({HEATMAPS})",
        "",
        "## Best cell of each method",
        "",
        f"Test accuracy in %, mean ± standard deviation over {seeds} seed(s) "
        "(members of a seed share initialization and minibatches).",
        "",
        "| method | rule | λ means | best α | best λ | test acc | test loss | train loss | diverged cells |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for grid in grids:
        best = grid.best()
        diverged = sum(cell.diverged for cell in grid.cells.values())
        description = METHODS[grid.method][1]
        units = WEIGHT_DECAY_UNITS.get(grid.method, "")
        if best is None:
            lines.append(f"| {grid.method} | {description} | {units} | — | — | — | — | — | {diverged} |")
            continue
        lines.append(
            f"| {grid.method} | {description} | {units} | "
            f"{format_value(best.lr)} | {format_value(best.weight_decay)} | "
            f"{_percent(best.mean('test_acc'), best.spread('test_acc'))} | {best.mean('test_loss'):.3f} | "
            f"{best.mean('train_loss'):.3f} | {diverged} of {len(grid.cells)} |"
        )
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
        "| method | " + " | ".join(f"α={format_value(lr)}" for lr in spec["lrs"]) + " |",
        "|---|" + "---|" * len(spec["lrs"]),
    ]
    for grid in grids:
        row = []
        for lr in spec["lrs"]:
            column = [grid.cell(d, lr) for d in grid.weight_decays]
            scored = [c for c in column if math.isfinite(c.mean("test_acc"))]
            best = max(scored, key=lambda c: c.mean("test_acc"), default=None)
            row.append(f"{format_value(best.weight_decay)} ({100 * best.mean('test_acc'):.1f}%)" if best else "—")
        lines.append(f"| {grid.method} | " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines)
