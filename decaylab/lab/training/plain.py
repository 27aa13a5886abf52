"""One run as one ordinary model in a plain PyTorch loop: the recipe that reproduces a member.

A study trains its runs as the members of a stacked model (:mod:`~decaylab.lab.training.loop`); each
member is, to floating-point rounding, this loop:

.. code-block:: python

    torch.manual_seed(run.seed)                          # the initialization
    model = task.make_model()
    optimizer = make_optimizer(run.method, param_groups(model, run.weight_decay), lr=run.lr, ...)
    eta = multipliers(schedule, run.epochs * steps)      # η_t, the schedule's multiplier
    scheduler = LambdaLR(optimizer, eta)
    decay = WeightDecaySchedule(optimizer, run.decay_schedule, run.epochs * steps)  # λ's own μ_t
    batches = torch.Generator().manual_seed(run.seed)    # the batch order (and augmentation)
    for epoch in range(run.epochs):
        for index in torch.randperm(len(x), generator=batches).split(run.batch_size):
            (loss(model(x[index]), y[index]) * run.loss_scale).backward()
            optimizer.step(); scheduler.step(); decay.step(); optimizer.zero_grad()

then the held-out and test splits in ``model.eval()``, in float32 as a study trains. Nothing of the
stacking is in it. (A run with ``clip`` clips with ``clip_grad_norm_``, whose formula the members' own
clipping follows.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from decaylab.lab.runs import RunConfig
from decaylab.lab.task.contract import Pair, Task
from decaylab.lab.task.schedules import multipliers
from decaylab.lab.training.loop import adam_half, hyperparameters, schedule_of
from decaylab.lab.training.stacking import eager, on_device
from decaylab.optim import WeightDecaySchedule, make_optimizer, param_groups

DTYPE = torch.float32


@dataclass(frozen=True)
class PlainRun:
    """What a plain run gives: ``(train_loss, held_out_loss, held_out_metric)`` per epoch, the test
    ``(loss, metric)`` and the trained model (NaN and None where it diverged)."""

    curves: list[tuple[float, float, float]]
    test: tuple[float, float]
    model: nn.Module | None


def plain_run(task: Task, run: RunConfig) -> PlainRun:
    """Train ``run`` of ``task`` alone, as its user would (module docstring)."""
    torch.manual_seed(run.seed)
    model = eager(task.make_model()).to(DTYPE)
    groups = param_groups(model, run.weight_decay, **task.group_options(run.method, run.decayed), **adam_half(run))
    optimizer = make_optimizer(run.method, groups, lr=run.lr, **hyperparameters(run))
    x, y = on_device(task.train, DTYPE, "cpu")
    steps = run.epochs * math.ceil(len(x) / run.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multipliers(schedule_of(task, run), steps))
    decay_schedule = WeightDecaySchedule(optimizer, run.decay_schedule, steps)
    batches = torch.Generator().manual_seed(run.seed)
    curves: list[tuple[float, float, float]] = []
    for _ in range(run.epochs):
        total = 0.0
        for index in torch.randperm(len(x), generator=batches).split(run.batch_size):
            inputs = x[index] if task.augment is None else task.augment(x[index], batches)
            loss = task.objective(model(inputs), y[index])
            if not torch.isfinite(loss):
                return PlainRun(curves, (math.nan, math.nan), None)
            (loss * run.loss_scale).backward()
            if run.clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), run.clip)
            optimizer.step()
            scheduler.step()
            decay_schedule.step()
            optimizer.zero_grad(set_to_none=True)
            total += loss.item() * len(index)
        curves.append((total / len(x), *evaluated(model, task, task.held_out[1])))
    test = evaluated(model, task, task.test) if task.validation is not None else curves[-1][1:]
    return PlainRun(curves, test, model)


@torch.no_grad()
def evaluated(model: nn.Module, task: Task, split: Pair) -> tuple[float, float]:
    """``(mean loss, metric)`` of ``model`` on a whole split, in eval mode."""
    x, y = on_device(split, DTYPE, "cpu")
    model.eval()
    output: Tensor = model(x)
    model.train()
    return float(task.objective(output, y)), float(task.selection_metric.function(output, y))
