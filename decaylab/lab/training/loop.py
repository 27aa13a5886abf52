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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils._pytree import tree_map

from decaylab.lab.runs import TASK_SCHEDULE, RunConfig, RunResult
from decaylab.lab.task.contract import Pair, Task
from decaylab.lab.task.schedules import SCHEDULES, Schedule, multipliers, with_warmup
from decaylab.lab.training import checkpoints
from decaylab.lab.training.checkpoints import UnitState
from decaylab.lab.training.probes import PROBES, Probe
from decaylab.lab.training.stacking import StackedModel, batchnorm_fed_weights, on_device
from decaylab.optim import METHODS, DecayOptimizer, WeightDecaySchedule, make_optimizer

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


@dataclass
class Training:
    """A unit being trained: its stacked model and data, optimizer and schedule, and what it records."""

    task: Task
    first: RunConfig
    """The unit's runs share everything but ``lr`` and ``λ``: the first speaks for all."""
    unit: UnitState
    train: Pair
    held_out: Pair
    tracked: dict[str, Tensor]
    """Weights whose scale BatchNorm removes: their norm and rotation are the effective learning rate."""
    probes: list[Probe]

    @property
    def members(self) -> int:
        return len(self.unit.results)


@contextmanager
def on_one_thread() -> Iterator[None]:
    """Train on one CPU thread, as every unit does: the number of threads splits float32 sums (matrix
    products, reductions) differently, and a run trained again (``decaylab reproduce``) must add in the
    same order, or Muon's bfloat16 orthogonalization turns the last bit's difference into another run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
    assert all(run.unit == runs[0].unit for run in runs), "a unit's runs must share task, method, seed, …"
    started = time.perf_counter()
    training = set_up(task, runs, dtype, device)
    position = resumed(checkpoint, training.unit)
    if position is None:  # a checkpoint that could not be read was deleted: the unit starts over
        training, position = set_up(task, runs, dtype, device), (1, 0.0)
    start_epoch, elapsed = position
    for epoch in range(start_epoch, training.first.epochs + 1):
        train_loss, turned = train_epoch(training, epoch)
        record_epoch(training, epoch, train_loss, turned)
        if checkpoint is not None and epoch < training.first.epochs:
            checkpoints.save(checkpoint, epoch, training.unit, elapsed + time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(epoch)
        if not training.unit.alive.any():
            break
    finish(training, dtype, device, seconds=elapsed + time.perf_counter() - started)
    if weights is not None:
        checkpoints.save_weights(weights, training.unit)
    return training.unit.results


def set_up(task: Task, runs: Sequence[RunConfig], dtype: torch.dtype, device: str) -> Training:
    """Seeding, the stacked model (one member per run), its data, the optimizer with each member's ``lr`` and
    ``λ``, the schedule (as a torch scheduler, as a user's loop has it) and the probes the runs asked for."""
    first = runs[0]
    torch.manual_seed(first.seed)
    model = StackedModel(task.make_model().to(device, dtype), len(runs))
    train_x, train_y = on_device(task.train, dtype, device)
    batches = torch.Generator().manual_seed(first.seed)
    exact = METHODS[first.method].family == "muon"  # its bfloat16 orthogonalization turns a last bit into a run
    model.choose_batching(train_x[: first.batch_size], train_y[: first.batch_size], task.objective, exact)

    base_lr = torch.tensor([run.lr for run in runs], dtype=torch.float64)
    decay = torch.tensor([run.weight_decay for run in runs], dtype=torch.float64)
    options = task.group_options(first.method, first.decayed)
    groups = model.param_groups(decay, **options, **adam_half(first, len(runs)))
    optimizer = make_optimizer(first.method, groups, lr=base_lr, **hyperparameters(first))
    steps = first.epochs * math.ceil(len(train_x) / first.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, multipliers(schedule_of(task, first), steps))
    decay_schedule = WeightDecaySchedule(optimizer, first.decay_schedule, steps)
    alive = torch.ones(len(runs), dtype=torch.bool, device=device)
    unit = UnitState(model, optimizer, schedule, decay_schedule, batches, alive, [RunResult(run) for run in runs])
    tracked = {name: model.parameters[name] for name in batchnorm_fed_weights(model.module)}
    probes = [PROBES[name](model, optimizer, task.decayed_options(first.decayed)) for name in first.probes]
    return Training(task, first, unit, (train_x, train_y), on_device(task.held_out[1], dtype, device), tracked, probes)


def hyperparameters(run: RunConfig) -> dict[str, Any]:
    """The hyperparameters a run gives :func:`~decaylab.optim.make_optimizer` beside its groups and ``lr``."""
    return {"betas": run.betas, "eps": run.eps, "momentum": run.momentum, "ns_dtype": run.ns_dtype}


def adam_half(run: RunConfig, members: int | None = None) -> dict[str, Any]:
    """:func:`decaylab.optim.param_groups`' ``adam_lr`` and ``adam_weight_decay`` of a Muon run that sets them
    (over ``members``, as a stacked unit's groups hold them, so a diverged member's Adam half stops too)."""
    half: dict[str, Any] = {}
    if run.adam_lr is not None:
        half["adam_lr"] = run.adam_lr if members is None else torch.full((members,), run.adam_lr, dtype=torch.float64)
    if run.adam_weight_decay is not None:
        half["adam_weight_decay"] = run.adam_weight_decay
    return half


def resumed(checkpoint: Path | None, unit: UnitState) -> tuple[int, float] | None:
    """Where the unit goes on from: ``(first epoch, seconds spent)``, from its checkpoint if it has one; None if the
    checkpoint could not be read (another unit's, a disk fault, an older format), which is then deleted."""
    if checkpoint is None or not checkpoint.exists():
        return 1, 0.0
    try:
        return checkpoints.resume(checkpoint, unit)
    except Exception as error:  # starting over costs time only
        if isinstance(error, checkpoints.NotThisUnit):
            print(f"decaylab: {error}; the unit starts over", file=sys.stderr)
        checkpoint.unlink(missing_ok=True)
        return None


def train_epoch(training: Training, epoch: int) -> tuple[Tensor, dict[str, Tensor]]:
    """One pass over the training set in a fresh order: each member's mean training loss, and the mean rotation
    per step of each tracked weight (sampled every :data:`ROTATION_EVERY` steps). A member whose loss turns
    non-finite is stopped; the first batch's losses are recorded as the runs' initial loss, and the probes look
    at each epoch's first step."""
    task, first, unit = training.task, training.first, training.unit
    model, optimizer, alive = unit.model, unit.optimizer, unit.alive
    train_x, train_y = training.train
    order = torch.randperm(len(train_x), generator=unit.batches).to(train_x.device)
    loss_sum = torch.zeros(training.members, dtype=torch.float64, device=alive.device)
    turned = {name: torch.zeros_like(loss_sum) for name in training.tracked}
    sampled_steps = 0
    for batch_number, start in enumerate(range(0, len(order), first.batch_size)):
        index = order[start : start + first.batch_size]
        x, y = train_x[index], train_y[index]
        if task.augment is not None:
            x = task.augment(x, unit.batches)
        losses = model.per_member(task.objective, model(x), y)
        if epoch == 1 and batch_number == 0:
            for result, loss in zip(unit.results, losses.detach().tolist(), strict=True):
                result.initial_loss = loss
        diverged = alive & ~torch.isfinite(losses.detach())
        (torch.where(alive & ~diverged, losses, 0.0).sum() * first.loss_scale).backward()
        if first.clip is not None:
            clip_per_member(list(model.parameters.values()), first.clip)
        sampled = batch_number % ROTATION_EVERY == 0
        before = {name: weight.detach().clone() for name, weight in training.tracked.items()} if sampled else {}
        probing = training.probes if batch_number == 0 else []
        for probe in probing:
            probe.before_step()
        optimizer.step()
        unit.schedule.step()  # lr = α·η_t for the next step (with per-member α, η_t itself)
        unit.decay_schedule.step()  # λ·μ_t for the next step
        for probe in probing:
            values = probe.after_step()
            for i in alive.nonzero().flatten().tolist():
                unit.results[i].measurements.append((epoch, probe.name, float(values[i])))
        optimizer.zero_grad(set_to_none=True)
        if sampled:
            for name, weight in training.tracked.items():
                turned[name] += rotation(before[name], weight.detach())
            sampled_steps += 1
        if diverged.any():
            _stop(model, optimizer, diverged, alive)
        loss_sum += losses.detach().double() * len(index)
    return loss_sum.cpu() / len(order), {name: value / max(sampled_steps, 1) for name, value in turned.items()}


def record_epoch(training: Training, epoch: int, train_loss: Tensor, turned: dict[str, Tensor]) -> None:
    """Each live member's curve point (training loss, held-out loss and metric) and its tracked weights' norm and
    rotation; a member whose numbers are not finite is stopped instead."""
    unit = training.unit
    held_out_loss, held_out_metric = evaluate(unit.model, training.task, training.held_out)
    for i in unit.alive.nonzero().flatten().tolist():
        values = (float(train_loss[i]), float(held_out_loss[i]), float(held_out_metric[i]))
        if all(math.isfinite(v) for v in values):
            unit.results[i].curves.append((epoch, *values))
            for name, weight in training.tracked.items():
                norm = float(weight.detach()[i].norm())
                unit.results[i].layers.append((epoch, name, norm, float(turned[name][i])))
        else:
            _stop(unit.model, unit.optimizer, torch.arange(training.members, device=unit.alive.device) == i, unit.alive)


def finish(training: Training, dtype: torch.dtype, device: str, seconds: float) -> None:
    """Each run's status and test numbers: on the test split where the task has a validation split to select
    on, else the held-out (test) split's last epoch."""
    task, unit = training.task, training.unit
    if task.validation is not None:
        test_loss, test_metric = evaluate(unit.model, task, on_device(task.test, dtype, device))
    for i, result in enumerate(unit.results):
        alive = bool(unit.alive[i])
        result.status = "diverged" if not alive else "unstable" if result.unstable else "done"
        if task.validation is None:
            result.test = result.curves[-1][2:] if result.curves else None
        elif alive:
            result.test = (float(test_loss[i]), float(test_metric[i]))
        result.seconds = seconds / training.members


@torch.no_grad()
def _stop(model: StackedModel, optimizer: DecayOptimizer, members: Tensor, alive: Tensor) -> None:
    """Stop diverged ``members`` for good: mark them dead, zero their weights, and let the optimizer
    stop them (lr 0, moments zeroed). Their loss is masked out, so they no longer move; members share
    no arithmetic, so the rest are untouched."""
    alive &= ~members
    optimizer.stop_members(members)
    for param in model.parameters.values():
        param[members] = 0.0
