"""Tasks derived from another: the same task with something changed, and an identity that says what."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from decaylab.lab.errors import UsageError
from decaylab.lab.task.contract import Pair, Task
from decaylab.lab.task.identity import variant_identity

OWN_TRAINING_SET = "train"
"""The name of a pool that is the task's own training set."""


def first_examples(task: Task, examples: int) -> Task:
    """``task`` trained on its first ``examples`` training examples only."""
    x, y = task.train
    return replace(
        task, train=(x[:examples], y[:examples]), identity=variant_identity(task.identity, f"train[:{examples}]")
    )


def first_held_out(task: Task, examples: int) -> Task:
    """``task`` measured on the first ``examples`` of its validation and test splits only (a smoke run's)."""

    def first(pair: Pair) -> Pair:
        return pair[0][:examples], pair[1][:examples]

    validation = None if task.validation is None else first(task.validation)
    identity = variant_identity(task.identity, f"held out[:{examples}]")
    return replace(task, validation=validation, test=first(task.test), identity=identity)


def drawn_examples(task: Task, pool: Pair, pool_name: str, examples: int, seed: int) -> Task:
    """``task`` trained on ``examples`` examples of ``pool`` drawn for ``seed``: the first ``examples`` of the
    seed's own permutation of the pool, so one seed's draws are nested in their size and each seed draws
    its own. All of the pool is the pool as it is (``task`` itself when the pool is its training set)."""
    x, y = pool
    if examples > len(x):
        raise UsageError(f"task {task.name}: {examples} training examples asked for, {len(x)} available")
    if examples == len(x):
        identity = variant_identity(task.identity, f"train = {pool_name}")
        return task if pool_name == OWN_TRAINING_SET else replace(task, train=pool, identity=identity)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:examples]
    identity = variant_identity(task.identity, f"train = {examples} of {pool_name} drawn by seed {seed}")
    return replace(task, train=(x[order], y[order]), identity=identity)


def model_width(task: Task) -> int | None:
    """The width ``make_model`` builds by default (``width=16.0`` is 16), or None when it takes no ``width`` or its
    default is not a whole number (then no width can be read or moved)."""
    try:
        parameter = inspect.signature(task.make_model).parameters.get("width")
    except (TypeError, ValueError):  # a callable whose signature cannot be read
        return None
    if parameter is None:
        return None
    default = parameter.default
    whole = isinstance(default, int | float) and not isinstance(default, bool) and float(default).is_integer()
    return int(default) if whole and default >= 1 else None


def with_width(task: Task, width: int) -> Task:
    """``task`` with a model of another width: ``make_model(width=width)``."""
    identity = variant_identity(task.identity, f"width={width}")
    make_model: Callable[..., nn.Module] = task.make_model
    return replace(task, make_model=functools.partial(make_model, width=width), identity=identity)
