"""The training loop: one unit of work, many grid points trained at once as one stacked model.

A unit is a list of runs that share task, method, seed, epochs and schedule and differ in
``lr`` and ``λ``. They become the members of one :class:`~decaylab.lab.training.stacking.StackedModel`:
the same initialization and the same minibatches for all (a paired comparison), each member
with its own ``lr`` and ``λ`` through the optimizer's per-member hyperparameters. The schedule
reaches the rules as the post's ``η_t`` through a torch scheduler (``LambdaLR``), as it would in
a user's own loop.

After every epoch the unit can be checkpointed (:mod:`~decaylab.lab.training.checkpoints`): a unit
resumed from its checkpoint ends with exactly the numbers of an uninterrupted run.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils._pytree import tree_map

from decaylab.lab.runs import TASK_SCHEDULE, RunConfig, RunResult
from decaylab.lab.task.contract import Pair, Task
from decaylab.lab.task.schedules import SCHEDULES, Schedule, multipliers, with_warmup
from decaylab.lab.training import checkpoints
from decaylab.lab.training.checkpoints import UnitState
from decaylab.lab.training.probes import PROXADAM_STEP, ProxAdamStep
from decaylab.lab.training.stacking import StackedModel, batchnorm_fed_weights, on_device
from decaylab.optim import DecayOptimizer, make_optimizer

ROTATION_EVERY = 8
"""Rotation of BatchNorm-fed weights is measured on every 8th step of an epoch, its first
included (the epoch's mean is estimated from those), which keeps the cost of recording it to a
few percent of training."""


def schedule_of(task: Task, run: RunConfig) -> Schedule:
    """The run's ``η(step, total)``: a named schedule or the task's own, after its warm-up."""
    if run.schedule == TASK_SCHEDULE:
        assert callable(task.schedule), "a run follows the task's schedule only if the task has one"
        return with_warmup(task.schedule, run.warmup)
    return with_warmup(SCHEDULES[run.schedule], run.warmup)


def rotation(before: Tensor, after: Tensor) -> Tensor:
    """Angle between each member's weights before and after (radians), ``(M, …) → (M,)``.

    ``2·asin(‖â − b̂‖/2)``, which stays accurate for the small angles of one step, where
    ``acos`` of a cosine near 1 does not.
    """
    a, b = before.flatten(1).double(), after.flatten(1).double()
    chord = (a / a.norm(dim=1, keepdim=True) - b / b.norm(dim=1, keepdim=True)).norm(dim=1)
    return 2 * torch.asin((chord / 2).clamp(max=1.0))


def clip_per_member(parameters: Sequence[Tensor], max_norm: float) -> None:
    """Scale each member's gradient so that its norm over all parameters is at most ``max_norm``."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norms = torch.stack([g.flatten(1).double().pow(2).sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for grad in grads:
        grad.mul_(scale.to(grad.dtype).view(-1, *([1] * (grad.ndim - 1))))


@torch.no_grad()
def evaluate(model: StackedModel, task: Task, pair: Pair) -> tuple[Tensor, Tensor]:
    """Mean loss and the metric of every member on ``pair`` (on the model's device), ``(M,)`` each.

    The loss and a metric that is a mean over examples are computed batch by batch, the batches
    weighted by their size; any other metric once, on the whole split's outputs (:class:`Metric`)."""
    x, y = pair
    metric = task.selection_metric
    model.eval()
    loss_sum = torch.zeros(model.members, dtype=torch.float64, device=x.device)
    metric_sum = torch.zeros_like(loss_sum)
    outputs_of_split = []
    batch = 4 * task.batch_size
    for start in range(0, len(x), batch):
        targets = y[start : start + batch]
        outputs = model(x[start : start + batch])
        loss_sum += model.per_member(task.objective, outputs, targets).double() * len(targets)
        if metric.batchwise:
            metric_sum += model.per_member(metric.function, outputs, targets).double() * len(targets)
        else:
            outputs_of_split.append(outputs)
    model.train()
    if metric.batchwise:
        return loss_sum / len(x), metric_sum / len(x)
    whole = tree_map(lambda *parts: torch.cat(parts, dim=1), *outputs_of_split)  # members lead, examples second
    return loss_sum / len(x), model.per_member(metric.function, whole, y).double()


ProgressCallback = Callable[[int], None]
"""Called with the number of the epoch a unit just finished."""


def train_unit(
    task: Task,
    runs: Sequence[RunConfig],
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    checkpoint: Path | None = None,
    on_epoch: ProgressCallback | None = None,
    weights: Path | None = None,
) -> list[RunResult]:
    """Train ``runs`` (one unit: all share ``RunConfig.unit``) as the members of one model.

    Random numbers for initialization, batch order and augmentation come from CPU
    generators, so a run sees the same data and starts from the same weights on every
    device. With ``checkpoint`` (a file path), the unit's state is saved there after every
    epoch and training resumes from it if it exists. With ``weights`` (a folder), each member
    that did not diverge is kept there at the end (:func:`~decaylab.lab.training.checkpoints.save_weights`).
    """
    first = runs[0]
    assert all(run.unit == first.unit for run in runs), "a unit's runs must share task, method, seed, …"
    started = time.perf_counter()
    torch.manual_seed(first.seed)
    model = StackedModel(task.make_model().to(device, dtype), len(runs))
    train_x, train_y = on_device(task.train, dtype, device)
    held_out = on_device(task.held_out[1], dtype, device)
    batches = torch.Generator().manual_seed(first.seed)
    model.choose_batching(train_x[: first.batch_size], train_y[: first.batch_size], task.objective)

    base_lr = torch.tensor([run.lr for run in runs], dtype=torch.float64)
    decay = torch.tensor([run.weight_decay for run in runs], dtype=torch.float64)
    groups = model.param_groups(decay, **task.group_options(first.method))
    optimizer = make_optimizer(
        first.method, groups, lr=base_lr, betas=first.betas, eps=first.eps, momentum=first.momentum
    )
    steps_per_epoch = math.ceil(len(train_x) / first.batch_size)
    etas = multipliers(schedule_of(task, first), first.epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: etas[min(step, len(etas) - 1)])
    # weights whose scale BatchNorm removes: their norm and rotation are the effective learning rate
    tracked = {name: model.parameters[name] for name in batchnorm_fed_weights(model.module)}
    options = {"decay_all": task.decay_all, "no_decay": task.no_decay}
    probe = ProxAdamStep(model, optimizer, options) if PROXADAM_STEP in first.probes else None

    results = [RunResult(run) for run in runs]
    alive = torch.ones(len(runs), dtype=torch.bool, device=device)
    unit = UnitState(model, optimizer, schedule, batches, alive, results)
    start_epoch, elapsed = 1, 0.0
    if checkpoint is not None and checkpoint.exists():
        try:
            start_epoch, elapsed = checkpoints.resume(checkpoint, unit)
        except checkpoints.NotThisUnit as error:
            print(f"decaylab: {error}; the unit starts over", file=sys.stderr)
            checkpoint.unlink(missing_ok=True)
            return train_unit(task, runs, dtype, device, checkpoint, on_epoch, weights)
        except Exception:  # unreadable (a disk fault, an older format): the unit starts over, costing time only
            checkpoint.unlink(missing_ok=True)
            return train_unit(task, runs, dtype, device, checkpoint, on_epoch, weights)
    for epoch in range(start_epoch, first.epochs + 1):
        order = torch.randperm(len(train_x), generator=batches).to(device)
        loss_sum = torch.zeros(len(runs), dtype=torch.float64, device=device)
        turned = {name: torch.zeros(len(runs), dtype=torch.float64, device=device) for name in tracked}
        sampled_steps = 0
        for batch_number, start in enumerate(range(0, len(order), first.batch_size)):
            index = order[start : start + first.batch_size]
            x, y = train_x[index], train_y[index]
            if task.augment is not None:
                x = task.augment(x, batches)
            losses = model.per_member(task.objective, model(x), y)
            if epoch == 1 and batch_number == 0:
                for result, loss in zip(results, losses.detach().tolist(), strict=True):
                    result.initial_loss = loss
            diverged = alive & ~torch.isfinite(losses.detach())
            (torch.where(alive & ~diverged, losses, 0.0).sum() * first.loss_scale).backward()
            if first.clip is not None:
                clip_per_member(list(model.parameters.values()), first.clip)
            sampled = batch_number % ROTATION_EVERY == 0
            before = {name: weight.detach().clone() for name, weight in tracked.items()} if sampled else {}
            if probe is not None and batch_number == 0:
                probe.before_step()
            optimizer.step()
            schedule.step()  # lr = α·η_t for the next step (with per-member α, η_t itself)
            if probe is not None and batch_number == 0:
                gaps = probe.after_step()
                for i in alive.nonzero().flatten().tolist():
                    results[i].measurements.append((epoch, probe.name, float(gaps[i])))
            optimizer.zero_grad(set_to_none=True)
            if sampled:
                for name, weight in tracked.items():
                    turned[name] += rotation(before[name], weight.detach())
                sampled_steps += 1
            if diverged.any():
                _stop(model, optimizer, diverged, alive)
            loss_sum += losses.detach().double() * len(index)
        held_out_loss, held_out_metric = evaluate(model, task, held_out)
        train_loss = loss_sum.cpu() / len(order)
        for i in alive.nonzero().flatten().tolist():
            values = (float(train_loss[i]), float(held_out_loss[i]), float(held_out_metric[i]))
            if all(math.isfinite(v) for v in values):
                results[i].curves.append((epoch, *values))
                for name, weight in tracked.items():
                    norm = float(weight.detach()[i].norm())
                    results[i].layers.append((epoch, name, norm, float(turned[name][i]) / max(sampled_steps, 1)))
            else:
                _stop(model, optimizer, torch.arange(len(runs), device=device) == i, alive)
        if checkpoint is not None and epoch < first.epochs:
            checkpoints.save(checkpoint, epoch, unit, elapsed + time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(epoch)
        if not alive.any():
            break

    if task.validation is not None:
        test_loss, test_metric = evaluate(model, task, on_device(task.test, dtype, device))
    for i, result in enumerate(results):
        result.status = "diverged" if not alive[i] else "unstable" if result.unstable else "done"
        if task.validation is None:  # the held-out split is the test split
            result.test = result.curves[-1][2:] if result.curves else None
        elif alive[i]:
            result.test = (float(test_loss[i]), float(test_metric[i]))
        result.seconds = (elapsed + time.perf_counter() - started) / len(runs)
    if weights is not None:
        checkpoints.save_weights(weights, unit)
    return results


@torch.no_grad()
def _stop(model: StackedModel, optimizer: DecayOptimizer, members: Tensor, alive: Tensor) -> None:
    """Stop diverged ``members`` for good: mark them dead, zero their weights, and let the optimizer
    stop them (lr 0, moments zeroed). Their loss is masked out, so they no longer move; members share
    no arithmetic, so the rest are untouched."""
    alive &= ~members
    optimizer.stop_members(members)
    for param in model.parameters.values():
        param[members] = 0.0
