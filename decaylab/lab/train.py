"""The training loop: one unit of work, many grid points trained at once as one stacked model.

A unit is a list of runs that share task, method, seed, epochs and schedule and differ in
``lr`` and ``λ``. They become the members of one stacked model: the same initialization and
the same minibatches for all (a paired comparison), each member with its own ``lr`` and ``λ``
through the optimizer core's per-member hyperparameters. The schedule reaches the rules as
the post's ``η_t = lr_t/α``: the loop sets each group's ``lr`` to ``α·η_t`` before each step.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from decaylab.lab.tasks import Task
from decaylab.optim import make_optimizer, param_groups

SCHEDULES = ("cosine", "constant")
EVAL_BATCH = 2000
ROTATION_EVERY = 8
"""Rotation of BatchNorm-fed weights is measured on every 8th step of an epoch, its first
included (the epoch's mean is estimated from those), which keeps the cost of recording it to a
few percent of training."""


@dataclass(frozen=True)
class RunConfig:
    """One grid point: everything that determines a run's result."""

    task: str
    method: str
    lr: float
    weight_decay: float
    seed: int
    epochs: int
    schedule: str = "cosine"
    batch_size: int = 100
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    loss_scale: float = 1.0
    """The loss is multiplied by this before backpropagation (the scale-freeness check)."""

    @property
    def key(self) -> str:
        """A stable hash of the full configuration: the run's identity in the store."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:24]

    @property
    def unit(self) -> tuple[object, ...]:
        """What members of one stacked model must share: everything but ``lr`` and ``weight_decay``."""
        return tuple(value for name, value in asdict(self).items() if name not in ("lr", "weight_decay"))


@dataclass
class RunResult:
    """A finished run: ``done`` or ``diverged``, with per-epoch curves up to where it stopped."""

    config: RunConfig
    status: str = "done"
    curves: list[tuple[int, float, float, float]] = field(default_factory=list)
    """``(epoch, train_loss, test_loss, test_acc)`` for each finished epoch."""
    layers: list[tuple[int, str, float, float]] = field(default_factory=list)
    """``(epoch, layer, norm, rotation)`` of each weight that feeds a BatchNorm: its norm at the
    end of the epoch and its mean rotation per step (radians) during the epoch."""
    seconds: float = 0.0

    @property
    def final(self) -> tuple[float, float, float]:
        """``(train_loss, test_loss, test_acc)`` of the last finished epoch (NaN if none)."""
        return self.curves[-1][1:] if self.curves else (math.nan, math.nan, math.nan)


def scheduled_eta(schedule: str, step: int, total_steps: int) -> float:
    """``η_t`` before optimizer step ``step`` (0-based): cosine from 1 to 0, or constant 1."""
    if schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


def member_losses(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of each member: ``(M, B, K)`` logits → ``(M,)``."""
    members, batch, classes = logits.shape
    flat = F.cross_entropy(logits.reshape(-1, classes), labels.repeat(members), reduction="none")
    return flat.view(members, batch).mean(1)


def rotation(before: Tensor, after: Tensor) -> Tensor:
    """Angle between each member's weights before and after (radians), ``(M, …) → (M,)``.

    ``2·asin(‖â − b̂‖/2)``, which stays accurate for the small angles of one step, where
    ``acos`` of a cosine near 1 does not.
    """
    a, b = before.flatten(1).double(), after.flatten(1).double()
    chord = (a / a.norm(dim=1, keepdim=True) - b / b.norm(dim=1, keepdim=True)).norm(dim=1)
    return 2 * torch.asin((chord / 2).clamp(max=1.0))


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: Tensor, y: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Test loss and accuracy of every member, ``(M,)`` each."""
    model.eval()
    loss_sums, corrects = [], []
    for start in range(0, len(x), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH].to(dtype))
        labels = y[start : start + EVAL_BATCH]
        loss_sums.append(member_losses(logits, labels).double() * len(labels))
        corrects.append((logits.argmax(-1) == labels).sum(1).double())
    model.train()
    return torch.stack(loss_sums).sum(0) / len(x), torch.stack(corrects).sum(0) / len(x)


def train_unit(
    task: Task, runs: Sequence[RunConfig], dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> list[RunResult]:
    """Train ``runs`` (one unit: all share ``RunConfig.unit``) as the members of one model.

    Random numbers (initialization, batch order, augmentation) come from CPU generators, so a
    run sees the same data and starts from the same weights on every device.
    """
    first = runs[0]
    assert all(run.unit == first.unit for run in runs), "a unit's runs must share task, method, seed, …"
    started = time.perf_counter()
    torch.manual_seed(first.seed)
    model = task.make_model(len(runs)).to(device, dtype)
    train_x, train_y = task.train_x.to(device), task.train_y.to(device)
    test_x, test_y = task.test_x.to(device), task.test_y.to(device)
    base_lr = torch.tensor([run.lr for run in runs], dtype=torch.float64)
    decay = torch.tensor([run.weight_decay for run in runs], dtype=torch.float64)
    groups = param_groups(model, decay, member_dims=1)
    optimizer = make_optimizer(first.method, groups, lr=base_lr, betas=first.betas, eps=first.eps)
    batches = torch.Generator().manual_seed(first.seed)

    results = [RunResult(run) for run in runs]
    # weights whose scale BatchNorm removes: their norm and rotation are the effective learning rate
    tracked: dict[str, Tensor] = dict(getattr(model, "normalized_weights", dict)())
    alive = torch.ones(len(runs), dtype=torch.bool, device=device)
    steps_per_epoch = math.ceil(len(task.train_x) / first.batch_size)
    total_steps = first.epochs * steps_per_epoch
    step = 0
    for epoch in range(1, first.epochs + 1):
        order = torch.randperm(len(task.train_x), generator=batches).to(device)
        loss_sum = torch.zeros(len(runs), dtype=torch.float64, device=device)
        turned = {name: torch.zeros(len(runs), dtype=torch.float64, device=device) for name in tracked}
        sampled_steps = 0
        for batch_number, start in enumerate(range(0, len(order), first.batch_size)):
            index = order[start : start + first.batch_size]
            x = train_x[index]
            if task.augment is not None:
                x = task.augment(x, batches)
            losses = member_losses(model(x.to(dtype)), train_y[index])
            diverged = alive & ~torch.isfinite(losses.detach())
            (torch.where(alive & ~diverged, losses, 0.0).sum() * first.loss_scale).backward()
            sampled = batch_number % ROTATION_EVERY == 0
            before = {name: weight.detach().clone() for name, weight in tracked.items()} if sampled else {}
            eta = scheduled_eta(first.schedule, step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = base_lr * eta * alive.cpu()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if sampled:
                for name, weight in tracked.items():
                    turned[name] += rotation(before[name], weight.detach())
                sampled_steps += 1
            if diverged.any():
                _stop(model, optimizer, diverged, alive)
            loss_sum += losses.detach().double() * len(index)
            step += 1
        test_loss, test_acc = evaluate(model, test_x, test_y, dtype)
        train_loss = loss_sum.cpu() / len(order)
        test_loss, test_acc = test_loss.cpu(), test_acc.cpu()
        for i in alive.nonzero().flatten().tolist():
            values = (float(train_loss[i]), float(test_loss[i]), float(test_acc[i]))
            if all(math.isfinite(v) for v in values):
                results[i].curves.append((epoch, *values))
                for name, weight in tracked.items():
                    norm = float(weight.detach()[i].norm())
                    results[i].layers.append((epoch, name, norm, float(turned[name][i]) / max(sampled_steps, 1)))
            else:
                _stop(model, optimizer, torch.arange(len(runs), device=device) == i, alive)
    for i, result in enumerate(results):
        result.status = "done" if alive[i] else "diverged"
        result.seconds = (time.perf_counter() - started) / len(runs)
    return results


@torch.no_grad()
def _stop(model: torch.nn.Module, optimizer: torch.optim.Optimizer, members: Tensor, alive: Tensor) -> None:
    """Stop diverged ``members``: mark them dead, and zero their weights and moments.

    Their ``lr`` is 0 from the next step on and their loss is masked out, so they no longer
    move; zeroed weights and moments keep their arithmetic finite. Members share no
    arithmetic (their channels and matrix columns are their own), so the rest are untouched.
    """
    alive &= ~members
    for param in model.parameters():
        param[members] = 0.0
        for moment in optimizer.state.get(param, {}).values():
            if moment.ndim > 0:
                moment[members] = 0.0
