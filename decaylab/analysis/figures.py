"""The study's figures: heatmaps of the task's metric over α × λ (the post's Fig. 1) and learning curves."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from decaylab.analysis.cells import MethodGrid, MetricScale
from decaylab.optim import METHODS

COLORMAP = "viridis"


def format_value(value: float) -> str:
    return "0" if value == 0 else f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")


def color_range(values: Sequence[float], scale: MetricScale) -> tuple[float, float, str]:
    """``(vmin, vmax, note)`` of the shared colour scale, in display units: contrast where the good
    cells are. Accuracy spans 30 points below the best; other metrics three times the spread
    between the best and the median cell. Worse cells clip to the darkest colour."""
    best = max(values, key=scale.key)
    if scale.percent:
        return max(min(values), best - 30), best, f"clipped below {max(min(values), best - 30):.0f}"
    median = float(np.median(values))
    worst = best + 3 * (median - best) if median != best else best + (1 if scale.higher_is_better else -1)
    low, high = sorted((best, worst))
    return low, high, f"clipped {'below' if scale.higher_is_better else 'above'} {worst:.3g}"


def draw_heatmaps(grids: Sequence[MethodGrid], path: Path, title: str) -> None:
    """One panel per method: the held-out metric over α (x) and λ (y), one colour scale for all.

    Axes are the grid's log-spaced values (λ = 0 as its own bottom row). Each cell shows its
    value; bright is better whatever the metric's direction; the best cell of each panel is
    framed in red; a diverged cell is hatched grey and marked "div", an unstable one (finite, but its
    training loss ended above where it started) hatched the other way and marked "unst".
    """
    scale = grids[0].scale
    finite = [scale.shown(c.mean()) for g in grids for c in g.cells.values() if math.isfinite(c.mean())]
    bottom, top, clipping = color_range(finite, scale) if finite else (0.0, 1.0, "")
    columns = 2 if len(grids) == 4 else min(3, len(grids))  # four panels as 2 × 2, not 3 + 1
    rows = math.ceil(len(grids) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 1.2, 4.3 * rows + 0.9), squeeze=False)
    figure.subplots_adjust(hspace=0.35, wspace=0.4)  # room for the next panel's λ label
    colormap = COLORMAP if scale.higher_is_better else COLORMAP + "_r"
    image = None
    for axis, grid in zip(axes.flat, grids, strict=False):
        values = np.array([[scale.shown(grid.cell(d, lr).mean()) for lr in grid.lrs] for d in grid.weight_decays])
        image = axis.imshow(values, origin="lower", cmap=colormap, vmin=bottom, vmax=top, aspect="auto")
        best = grid.best()
        for i, decay in enumerate(grid.weight_decays):
            for j, lr in enumerate(grid.lrs):
                cell = grid.cell(decay, lr)
                if cell.failed:
                    hatch, label = ("///", "div") if cell.diverged else ("\\\\\\", "unst")
                    axis.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", hatch=hatch, edgecolor="0.5"))
                    axis.text(j, i, label, ha="center", va="center", fontsize=7, color="0.2")
                elif math.isfinite(values[i, j]):
                    shade = (values[i, j] - bottom) / max(top - bottom, 1e-12)
                    good = shade > 0.6 if scale.higher_is_better else shade < 0.4
                    text = f"{values[i, j]:.1f}" if scale.percent else f"{values[i, j]:.3g}"
                    axis.text(j, i, text, ha="center", va="center", fontsize=7, color="black" if good else "white")
                if cell is best:
                    axis.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
        axis.set_xticks(range(len(grid.lrs)), [format_value(lr) for lr in grid.lrs], fontsize=8)
        axis.set_yticks(range(len(grid.weight_decays)), [format_value(d) for d in grid.weight_decays], fontsize=8)
        axis.set_xlabel("learning rate α (log grid)")
        units = METHODS[grid.method].decay_units if grid.method in METHODS else "λ"
        axis.set_ylabel(units + " (log grid)", fontsize=8)
        best_note = f" — best {scale.format(best.mean())}" if best else ""
        axis.set_title(f"{grid.method}{best_note}", fontsize=10)
    for axis in axes.flat[len(grids) :]:
        axis.axis("off")
    if image is not None:
        bar = figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
        bar.set_label(f"{scale.label}, {clipping}")
    figure.suptitle(
        title
        + "\nred frame: best cell per method · hatched 'div': diverged, 'unst': unstable (loss ended above its start)",
        fontsize=11,
        y=1.0,
    )
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def draw_learning_curves(
    grids: Sequence[MethodGrid], curves: Callable[[str], list[tuple[int, float, float, float]]], path: Path, title: str
) -> None:
    """The held-out metric and the training loss along training for each method's best cell (mean over seeds)."""
    figure, (metric_axis, loss_axis) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")  # no overlaps
    scale = grids[0].scale if grids else MetricScale("accuracy", True)
    for grid in grids:
        best = grid.best()
        if best is None:
            continue
        per_seed = [curves(run["key"]) for run in best.runs if run["status"] == "done"]
        length = min(len(c) for c in per_seed)
        epochs = [point[0] for point in per_seed[0][:length]]
        mean = np.mean([[point[1:] for point in c[:length]] for c in per_seed], axis=0)
        label = f"{grid.method} (α={format_value(best.lr)}, λ={format_value(best.weight_decay)})"
        metric_axis.plot(epochs, [scale.shown(v) for v in mean[:, 2]], label=label)
        loss_axis.plot(epochs, mean[:, 0], label=label)
    metric_axis.set(xlabel="epoch", ylabel=scale.label, title=f"{scale.label}, best cell per method")
    loss_axis.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss, best cell per method")
    if metric_axis.lines:  # none when every run diverged
        metric_axis.legend(fontsize=8)
    metric_axis.grid(alpha=0.3)
    loss_axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


@dataclass(frozen=True)
class Ridge:
    """One method's best λ per learning rate, as the ridge figure draws it."""

    method: str
    log_lrs: list[float]
    log_decays: list[float]
    errors: list[tuple[float, float]]
    """Per point, how far its 95% interval reaches below and above (NaN: none)."""
    slope: float


def intervals_of(ridges: Sequence[Ridge]) -> str:
    """What the error bars are: 95% intervals over seeds, or none (one seed)."""
    drawn = any(not math.isnan(reach) for ridge in ridges for pair in ridge.errors for reach in pair)
    return "95% intervals over seeds" if drawn else "one seed: no intervals"


def draw_ridges(ridges: Sequence[Ridge], path: Path) -> None:
    """log λ* against log α per method, each in its own units, with torch-form AdamW also in paper units."""
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for ridge in ridges:
        if not ridge.log_lrs:
            continue
        errors = np.array(ridge.errors).T if ridge.errors else None
        line = axis.errorbar(
            ridge.log_lrs,
            ridge.log_decays,
            yerr=errors,
            fmt="o-",
            capsize=3,
            label=f"{ridge.method} (s = {ridge.slope:+.2f})",
        )
        if ridge.method == "adamw-torch":  # the paper-form equivalent: λ_paper = α·λ_torch
            paper = [d + a for a, d in zip(ridge.log_lrs, ridge.log_decays, strict=True)]
            axis.plot(ridge.log_lrs, paper, ":", color=line[0].get_color(), label="adamw-torch as α·λ (paper units)")
    axis.set(
        xlabel="log10 α (good columns)",
        ylabel="log10 λ* (each method's own units)",
        title=f"best λ per learning rate ({intervals_of(ridges)})",
    )
    if axis.lines:
        axis.legend(fontsize=7)
    else:  # a quick run's small grid may leave no interior best λ to draw
        axis.text(0.5, 0.5, "no column with an interior best λ", ha="center", transform=axis.transAxes)
    axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def draw_grids_and_ridges(
    grids: Sequence[MethodGrid], ridges: Sequence[Ridge], folder: Path, names: tuple[str, str], title: str
) -> list[str]:
    """The heatmaps of ``grids`` and their ridges, into ``folder`` under ``names``; returns the names."""
    draw_heatmaps(grids, folder / names[0], title)
    draw_ridges(ridges, folder / names[1])
    return list(names)
