"""Losses and metrics where decaylab 0.2 kept them, so task files that import from here run unchanged.

Their home is :mod:`decaylab.lab.task.objectives`.
"""

from decaylab.lab.task.objectives import ACCURACY, Loss, Metric, accuracy, bits_per_character, cross_entropy

__all__ = ["ACCURACY", "Loss", "Metric", "accuracy", "bits_per_character", "cross_entropy"]
