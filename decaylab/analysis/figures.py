"""The study's figures: accuracy heatmaps over α × λ (the post's Fig. 1) and learning curves."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from decaylab.analysis.cells import MethodGrid

WEIGHT_DECAY_UNITS = {
    "adam": "no decay",
    "adaml2": "λ: ℓ2 penalty in the loss",
    "adamp": "λ: ℓ2 penalty (Euclidean prox)",
    "adamw": "λ: decay per step (paper)",
    "proxadam": "λ: decay per step (prox)",
    "proxadam-l1": "λ: ℓ1 threshold per step",
    "adamw-torch": "λ: decay per step / α (torch)",
    "adamc": "λ: decay per step / α at peak (torch)",
}
COLORMAP = "viridis"


def format_value(value: float) -> str:
    return "0" if value == 0 else f"{value:.0e}".replace("e-0", "e-").replace("e+0", "e")


def draw_heatmaps(grids: Sequence[MethodGrid], path: Path, title: str) -> None:
    """One panel per method: test accuracy (%) over α (x) and λ (y), one colour scale for all.

    Axes are the grid's log-spaced values (λ = 0 as its own bottom row). Each cell shows its
    accuracy; the best cell of each panel is framed in red; a diverged cell is hatched grey
    and marked "div".
    """
    finite = [100 * c.mean("test_acc") for g in grids for c in g.cells.values() if math.isfinite(c.mean("test_acc"))]
    top = max(finite, default=100.0)
    bottom = max(min(finite, default=0.0), top - 30)  # contrast where it matters; worse cells clip
    columns = min(3, len(grids))
    rows = math.ceil(len(grids) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 1.2, 4.0 * rows + 0.9), squeeze=False)
    image = None
    for axis, grid in zip(axes.flat, grids, strict=False):
        values = np.array([[100 * grid.cell(d, lr).mean("test_acc") for lr in grid.lrs] for d in grid.weight_decays])
        image = axis.imshow(values, origin="lower", cmap=COLORMAP, vmin=bottom, vmax=top, aspect="auto")
        best = grid.best()
        for i, decay in enumerate(grid.weight_decays):
            for j, lr in enumerate(grid.lrs):
                cell = grid.cell(decay, lr)
                if cell.diverged:
                    axis.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", hatch="///", edgecolor="0.5"))
                    axis.text(j, i, "div", ha="center", va="center", fontsize=7, color="0.2")
                elif math.isfinite(values[i, j]):
                    shade = (values[i, j] - bottom) / max(top - bottom, 1e-9)
                    color = "black" if shade > 0.6 else "white"
                    axis.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=7, color=color)
                if cell is best:
                    axis.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
        axis.set_xticks(range(len(grid.lrs)), [format_value(lr) for lr in grid.lrs], fontsize=8)
        axis.set_yticks(range(len(grid.weight_decays)), [format_value(d) for d in grid.weight_decays], fontsize=8)
        axis.set_xlabel("learning rate α (log grid)")
        axis.set_ylabel(WEIGHT_DECAY_UNITS.get(grid.method, "λ") + " (log grid)", fontsize=8)
        best_note = f" — best {100 * best.mean('test_acc'):.1f}%" if best else ""
        axis.set_title(f"{grid.method}{best_note}", fontsize=10)
    for axis in axes.flat[len(grids) :]:
        axis.axis("off")
    if image is not None:
        bar = figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
        bar.set_label(f"test accuracy (%), clipped below {bottom:.0f}")
    figure.suptitle(title + "\nred frame: best cell per method · hatched 'div': diverged", fontsize=11, y=1.0)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def draw_learning_curves(
    grids: Sequence[MethodGrid], curves: Callable[[str], list[tuple[int, float, float, float]]], path: Path, title: str
) -> None:
    """Test accuracy and training loss along training for each method's best cell (mean over seeds)."""
    figure, (accuracy_axis, loss_axis) = plt.subplots(1, 2, figsize=(12, 4.2))
    for grid in grids:
        best = grid.best()
        if best is None:
            continue
        per_seed = [curves(run["key"]) for run in best.runs if run["status"] == "done"]
        length = min(len(c) for c in per_seed)
        epochs = [point[0] for point in per_seed[0][:length]]
        mean = np.mean([[point[1:] for point in c[:length]] for c in per_seed], axis=0)
        label = f"{grid.method} (α={format_value(best.lr)}, λ={format_value(best.weight_decay)})"
        accuracy_axis.plot(epochs, 100 * mean[:, 2], label=label)
        loss_axis.plot(epochs, mean[:, 0], label=label)
    accuracy_axis.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy, best cell per method")
    loss_axis.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss, best cell per method")
    accuracy_axis.legend(fontsize=8)
    accuracy_axis.grid(alpha=0.3)
    loss_axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
