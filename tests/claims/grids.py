"""Constructed results with known answers: method grids whose held-out score is a given function."""

from __future__ import annotations

import math

from decaylab.analysis.cells import MethodGrid, method_grids

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def grid(accuracy, method="m", seeds=(0, 1, 2), noise=0.0, lrs=LRS, decays=DECAYS, metric="accuracy") -> MethodGrid:
    """A grid whose validation (and test) metric is ``accuracy(lr, λ, seed)`` (+ ``noise`` alternating by seed)."""
    rows = []
    for lr in lrs:
        for d in decays:
            for s in seeds:
                value = accuracy(lr, d, s) + noise * (-1) ** s
                rows.append({"method": method, "lr": lr, "weight_decay": d, "seed": s, "status": "done",
                             "key": f"{method}-{lr}-{d}-{s}", "val_metric": value, "test_metric": value,
                             "val_loss": 1.0, "test_loss": 1.0, "train_loss": 1.0, "metric": metric,
                             "higher_is_better": metric == "accuracy", "selected_on": "validation"})  # fmt: skip
    return method_grids(rows, [method])[0]


def ridge_with_slope(slope, height=lambda lr: 0.9, jitter=0.0):
    """Accuracy peaked at ``log λ* = −3 + s·(log α + 3)``: a ridge of known slope ``s``, which varies by
    ``jitter`` from seed to seed (seeds 0 … 3 around the given slope)."""

    def accuracy(lr, decay, seed=0):
        if decay == 0:
            return height(lr) - 0.2
        centre = -3 + (slope + jitter * (seed - 1.5)) * (math.log10(lr) + 3)
        return height(lr) - 0.01 * (math.log10(decay) - centre) ** 2

    return accuracy
