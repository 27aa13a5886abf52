"""The task contract: data, an ordinary model, its objective and training length — what a study trains.

Built-in tasks are in :mod:`decaylab.lab.task.builtin`; a user's own task is
``path/to/file.py:make_task``, where ``make_task()`` returns a :class:`Task`, or a :class:`Task`
handed to :func:`decaylab.study`. A task's fields are checked when it is made (:func:`check_fields`); that
decaylab can train it, in :func:`decaylab.lab.training.trial.prepare_task`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from decaylab.lab.errors import UsageError
from decaylab.lab.task.data import Pair, as_pair
from decaylab.lab.task.objectives import Loss, Metric, check_name, cross_entropy, resolve_metric
from decaylab.lab.task.schedules import SCHEDULES, Schedule, check_schedule
from decaylab.optim.groups import DECAYED_OPTIONS
from decaylab.optim.methods import METHODS

Augment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass(frozen=True)
class Task:
    """What a study trains. Only ``name``, the data and ``make_model`` are required.

    - ``train``, ``test``, ``validation``: ``(inputs, targets)`` tensor pairs held in memory (a
      ``TensorDataset``, a map-style ``Dataset`` of pairs, numpy arrays or a list pair are turned into them).
      Inputs keep their dtype (token ids stay integers); targets may have any shape. The best
      cell is chosen on ``validation`` (on ``test`` if there is none) and reported on ``test``.
    - ``make_model()`` returns ONE ordinary ``nn.Module``; decaylab stacks the members itself.
    - ``loss(output, target)``: the mean loss of one model's batch (default: cross-entropy
      over the last dimension). ``metric``: ``"accuracy"``, ``"loss"`` (lower is better), a
      :class:`~decaylab.lab.task.objectives.Metric`, or a callable score (higher is better; wrap an
      error or a loss in a ``Metric`` with ``higher_is_better=False``). Left out: accuracy for
      the default cross-entropy, the task's own loss when it has one.
    - ``epochs``, ``batch_size``; ``schedule`` (a name in :data:`~decaylab.lab.task.schedules.SCHEDULES`
      or ``η(step, total) → [0, 1]``) and ``warmup`` (a fraction of the steps); ``betas``,
      ``eps`` (Adam), ``momentum`` (SGD); ``clip``: the largest gradient norm, per member.
    - ``decay_all``, ``no_decay``: :func:`decaylab.optim.param_groups`' options for which
      parameters λ decays (default: matrices and kernels, not biases, 1-D or norm parameters).
      ``adam_for``: parameters a Muon method leaves to its Adam direction, by name prefix (a head, say;
      embeddings, biases and norms always take Adam's).
    - ``augment(x, generator)`` transforms a training batch. ``members_per_unit``: how many
      grid points one stacked model holds at most. ``references``: values of the metric the
      report prints beside the best cell, e.g. ``(("unigram entropy", 4.68),)``. ``version``:
      change it to start fresh runs when something the run keys cannot see changed.
    """

    name: str
    train: Pair
    test: Pair
    make_model: Callable[[], nn.Module]
    loss: Loss | None = None
    metric: str | Metric | Loss | None = None
    epochs: int = 30
    batch_size: int = 100
    validation: Pair | None = None
    schedule: str | Schedule = "cosine"
    warmup: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    clip: float | None = None
    decay_all: bool = False
    no_decay: tuple[str, ...] = ()
    adam_for: tuple[str, ...] = ()
    augment: Augment | None = None
    members_per_unit: int = 64
    references: tuple[tuple[str, float], ...] = ()
    version: str = ""
    identity: str = field(default="", compare=False)
    """What run keys record for this task (set by decaylab when the task is loaded)."""

    def __post_init__(self) -> None:
        check_name("a task's name", self.name)
        for split in ("train", "validation", "test"):  # datasets, numpy arrays, lists: tensors, once
            if getattr(self, split) is not None:
                object.__setattr__(self, split, as_pair(self.name, split, getattr(self, split)))
        check_fields(self)

    @property
    def objective(self) -> Loss:
        """The loss trained on: the task's own, or cross-entropy."""
        return self.loss or cross_entropy

    @property
    def _metric_asked(self) -> str | Metric | Loss:
        """The given metric, or accuracy (for the default cross-entropy) or the task's own loss."""
        if self.metric is not None:
            return self.metric
        return "accuracy" if self.loss is None else "loss"

    @property
    def selection_metric(self) -> Metric:
        """The metric cells are chosen by."""
        return resolve_metric(self._metric_asked, self.objective)

    def group_options(self, method: str, decayed: str = "task") -> dict[str, Any]:
        """:func:`decaylab.optim.param_groups`' options for ``method``'s runs: which parameters λ decays
        (:meth:`decayed_options`), and for a Muon method which take Muon's direction."""
        muon = METHODS[method].family == "muon"
        return {**self.decayed_options(decayed), "muon": muon, "adam_for": self.adam_for}

    def decayed_options(self, decayed: str = "task") -> dict[str, Any]:
        """:func:`decaylab.optim.param_groups`' options for which parameters λ reaches: the task's choice
        (``decay_all``, ``no_decay``), or a practice a grid compares (:data:`decaylab.lab.runs.DECAYED`)."""
        if decayed == "task":
            return {"decay_all": self.decay_all, "no_decay": self.no_decay}
        return dict(DECAYED_OPTIONS[decayed])

    @property
    def held_out(self) -> tuple[str, Pair]:
        """The split the best cell is chosen on: ``validation``, or ``test`` when the task has none."""
        return ("validation", self.validation) if self.validation is not None else ("test", self.test)


def check_fields(task: Task) -> None:
    """The task's data and settings, when it is made."""
    for split in ("train", "validation", "test"):
        pair = getattr(task, split)
        if pair is not None:
            _check_pair(task.name, split, pair)
    for number in ("epochs", "batch_size", "members_per_unit"):
        value = getattr(task, number)
        if isinstance(value, bool) or not (isinstance(value, int) and value >= 1):
            raise UsageError(f"task {task.name}: {number} must be a whole number >= 1, got {value!r}")
    if not (len(task.betas) == 2 and all(0.0 <= beta < 1.0 for beta in task.betas)):
        raise UsageError(f"task {task.name}: betas must be two numbers in [0, 1), got {task.betas!r}")
    for number in ("eps", "momentum"):
        if not getattr(task, number) >= 0:
            raise UsageError(f"task {task.name}: {number} must be >= 0, got {getattr(task, number)!r}")
    if isinstance(task.schedule, str) and task.schedule not in SCHEDULES:
        raise UsageError(f"task {task.name}: unknown schedule {task.schedule!r}; choose from {', '.join(SCHEDULES)}")
    if callable(task.schedule):  # its own: checked over the task's steps now, not in a worker mid-training
        steps = task.epochs * math.ceil(len(task.train[0]) / task.batch_size)
        try:
            check_schedule(task.schedule, steps)
        except UsageError as error:
            raise UsageError(f"task {task.name}: {error}") from None
    for names in ("no_decay", "adam_for"):  # name prefixes, as str.startswith takes them
        value = getattr(task, names)
        if not (isinstance(value, str) or (isinstance(value, tuple) and all(isinstance(n, str) for n in value))):
            raise UsageError(f"task {task.name}: {names} must be a tuple of parameter-name prefixes, got {value!r}")
    if not 0.0 <= task.warmup < 1.0:
        raise UsageError(f"task {task.name}: warmup must be a fraction in [0, 1), got {task.warmup}")
    if task.clip is not None and not task.clip > 0:
        raise UsageError(f"task {task.name}: clip must be > 0 (or None), got {task.clip}")
    if isinstance(task.make_model, nn.Module):
        raise UsageError(
            f"task {task.name}: make_model must be a function that returns a new model, not a model; "
            "write make_model=lambda: ..."
        )
    if not callable(task.make_model):
        raise UsageError(f"task {task.name}: make_model must be a function returning an nn.Module")
    task.selection_metric  # noqa: B018 - a bad metric fails here, when the task is made


def _check_pair(task: str, split: str, pair: Any) -> None:
    if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, Tensor) for t in pair)):
        raise UsageError(f"task {task}: {split} must be a pair of tensors (inputs, targets)")
    x, y = pair
    if len(x) != len(y):
        raise UsageError(f"task {task}: {split} has {len(x)} inputs but {len(y)} targets")
    if len(x) == 0:
        raise UsageError(f"task {task}: the {split} set is empty")
    for what, tensor in (("inputs", x), ("targets", y)):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UsageError(f"task {task}: the {split} {what} contain NaN or infinite values")
