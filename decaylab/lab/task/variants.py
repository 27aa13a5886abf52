"""Tasks derived from another: the same task with something changed, and an identity that says what."""

from __future__ import annotations

from dataclasses import replace

from decaylab.lab.task.contract import Task
from decaylab.lab.task.identity import variant_identity


def first_examples(task: Task, examples: int) -> Task:
    """``task`` trained on its first ``examples`` training examples only."""
    x, y = task.train
    return replace(
        task, train=(x[:examples], y[:examples]), identity=variant_identity(task.identity, f"train[:{examples}]")
    )
