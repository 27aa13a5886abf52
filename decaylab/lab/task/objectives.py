"""What a run is trained on and judged by: a task's loss and its selection metric.

Both are written for ONE model's batch, ``(output, target) → mean over the batch``; decaylab
maps them over the stacked members. The defaults work over the last dimension of the
output, so they fit classifiers ``(B, K)`` with labels ``(B,)`` and sequence models
``(B, T, K)`` with targets ``(B, T)`` alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from decaylab.lab.errors import UsageError

Loss = Callable[[Tensor, Tensor], Tensor]
"""``loss(output, target)``: the mean loss of one model's batch, a 0-dim tensor."""


def cross_entropy(output: Tensor, target: Tensor) -> Tensor:
    """Mean cross-entropy (nats) of logits ``z`` over the last dimension, ``(…, K)`` with labels ``y`` ``(…)``:
    the mean of ``logsumexp(z) − z_y``.

    Written with ops that ``vmap`` batches natively: ``F.cross_entropy`` under ``vmap`` goes through
    a slower Python decomposition (measured in ``docs/design-notes.md``).
    """
    return (output.logsumexp(-1) - output.gather(-1, target.unsqueeze(-1)).squeeze(-1)).mean()


def accuracy(output: Tensor, target: Tensor) -> Tensor:
    """Fraction of examples whose largest logit (last dimension) is the label."""
    return (output.argmax(-1) == target).double().mean()


def bits_per_character(output: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy in bits: the next-character loss of a language model."""
    return cross_entropy(output, target) / math.log(2)


@dataclass(frozen=True)
class Metric:
    """How runs are compared: ``function(output, target)`` is a batch mean; ``higher_is_better`` its direction.

    The best cell of a study is the one with the best metric on the validation split (the
    test split when a task has none); heatmaps, tables and claims name the metric.
    """

    name: str
    function: Loss
    higher_is_better: bool = True


ACCURACY = Metric("accuracy", accuracy, higher_is_better=True)


def resolve_metric(metric: str | Metric | Loss, loss: Loss) -> Metric:
    """``"accuracy"``, ``"loss"`` (the task's own loss, lower is better), a :class:`Metric`, or a callable.

    A bare callable is a score (higher is better), named after the function; wrap it in a
    :class:`Metric` with ``higher_is_better=False`` for an error or a loss.
    """
    if isinstance(metric, Metric):
        return metric
    if metric == "accuracy":
        return ACCURACY
    if metric == "loss":
        return Metric("loss", loss, higher_is_better=False)
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric"), metric, higher_is_better=True)
    raise UsageError(f"metric must be 'accuracy', 'loss', a Metric or a callable, got {metric!r}")
