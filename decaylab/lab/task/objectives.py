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


def check_name(what: str, name: object) -> None:
    """A name that reports, CSV files and the terminal show (a task's, a metric's): one line of printable
    text. A newline would write a heading or a table row of its own into a report, and an escape code would
    reach the reader's terminal, so neither is let in."""
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise UsageError(f"{what} must be one line of printable text (no newline or escape code), got {name!r}")


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
    """How runs are compared: ``function(output, target)`` of a whole split; ``higher_is_better`` its direction.

    By default a metric is computed once on the whole split's outputs and targets, which is right for
    any metric: R², AUC, F1, a perplexity from totals. A metric that is a mean over examples (accuracy, a
    mean loss) says so with ``mean_over_examples=True`` and is computed batch by batch instead, the
    batches weighted by their size, which needs no whole split's outputs in memory. decaylab's own
    accuracy, cross-entropy and bits per character are means, wherever they are used.

    The best cell of a study is the one with the best metric on the validation split (the
    test split when a task has none); heatmaps, tables and claims name the metric.
    """

    name: str
    function: Loss
    higher_is_better: bool = True
    mean_over_examples: bool = False

    def __post_init__(self) -> None:
        check_name("a metric's name", self.name)

    @property
    def batchwise(self) -> bool:
        """Computed batch by batch: a mean over examples, declared or one of decaylab's own."""
        return self.mean_over_examples or self.function in MEANS


MEANS: tuple[Loss, ...] = (accuracy, cross_entropy, bits_per_character)
"""decaylab's own functions that are means over examples."""
ACCURACY = Metric("accuracy", accuracy, higher_is_better=True, mean_over_examples=True)


def resolve_metric(metric: str | Metric | Loss, loss: Loss) -> Metric:
    """``"accuracy"``, ``"loss"`` (the task's own loss, lower is better), a :class:`Metric`, or a callable.

    A bare callable is a score (higher is better) of the whole split, named after the function; wrap it
    in a :class:`Metric` with ``higher_is_better=False`` for an error or a loss, and
    ``mean_over_examples=True`` for a mean.
    """
    if isinstance(metric, Metric):
        return metric
    if metric == "accuracy":
        return ACCURACY
    if metric == "loss":  # a task's loss is the mean of its batch, by the Task's contract
        return Metric("loss", loss, higher_is_better=False, mean_over_examples=True)
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric"), metric, higher_is_better=True)
    raise UsageError(f"metric must be 'accuracy', 'loss', a Metric or a callable, got {metric!r}")
