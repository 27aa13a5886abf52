"""The training loop: one unit of work, many grid points trained at once as one stacked model.

A unit is a list of runs that share task, method, seed, epochs and schedule and differ in
``lr`` and ``λ``. They become the members of one :class:`~decaylab.lab.stacking.StackedModel`:
the same initialization and the same minibatches for all (a paired comparison), each member
with its own ``lr`` and ``λ`` through the optimizer's per-member hyperparameters. The schedule
reaches the rules as the post's ``η_t``: before each step the loop sets ``lr = α·η_t``.

After every epoch the unit can be checkpointed (weights, optimizer, random generators and
curves, written atomically): a unit resumed from its checkpoint ends with exactly the numbers
of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils._pytree import tree_leaves

from decaylab.lab.errors import UsageError
from decaylab.lab.objectives import ACCURACY
from decaylab.lab.probes import PROXADAM_STEP, ProxAdamStep
from decaylab.lab.schedules import SCHEDULES, Schedule, multipliers, with_warmup
from decaylab.lab.stacking import StackedModel, batchnorm_fed_weights
from decaylab.lab.tasks import Task, one_line
from decaylab.optim import make_optimizer

ROTATION_EVERY = 8
"""Rotation of BatchNorm-fed weights is measured on every 8th step of an epoch, its first
included (the epoch's mean is estimated from those), which keeps the cost of recording it to a
few percent of training."""
TASK_SCHEDULE = "task"
"""``RunConfig.schedule`` of a run that follows the task's own ``η(step, total)``."""


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
    warmup: float = 0.0
    batch_size: int = 100
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    clip: float | None = None
    loss_scale: float = 1.0
    """The loss is multiplied by this before backpropagation (the scale-freeness check)."""
    probes: tuple[str, ...] = ()
    """Measurements to take along the way (:mod:`decaylab.lab.probes`), stored with the run."""

    @property
    def key(self) -> str:
        """A stable hash of the full configuration: the run's identity in the store."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:24]

    @property
    def unit(self) -> tuple[object, ...]:
        """What members of one stacked model must share: everything but ``lr`` and ``weight_decay``."""
        return tuple(value for name, value in asdict(self).items() if name not in ("lr", "weight_decay"))


Curve = tuple[int, float, float, float]
"""``(epoch, train_loss, held_out_loss, held_out_metric)``: one epoch on the split the best cell is chosen on."""


@dataclass
class RunResult:
    """A finished run: ``done`` or ``diverged``, with per-epoch curves up to where it stopped."""

    config: RunConfig
    status: str = "done"
    curves: list[Curve] = field(default_factory=list)
    test: tuple[float, float] | None = None
    """``(test_loss, test_metric)`` at the end (None for a diverged run of a task with a validation split)."""
    layers: list[tuple[int, str, float, float]] = field(default_factory=list)
    """``(epoch, layer, norm, rotation)`` of each weight that feeds a BatchNorm: its norm at the
    end of the epoch and its mean rotation per step (radians) during the epoch."""
    measurements: list[tuple[int, str, float]] = field(default_factory=list)
    """``(epoch, name, value)`` of the run's probes."""
    seconds: float = 0.0

    @property
    def final(self) -> tuple[float, float, float]:
        """``(train_loss, held_out_loss, held_out_metric)`` of the last finished epoch (NaN if none)."""
        return self.curves[-1][1:] if self.curves else (math.nan, math.nan, math.nan)


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


def _as_model_input(tensor: Tensor, dtype: torch.dtype, device: str) -> Tensor:
    """On the device; floating point data in the training dtype, integers (token ids, labels) kept."""
    return tensor.to(device, dtype) if tensor.is_floating_point() else tensor.to(device)


def _on_device(pair: tuple[Tensor, Tensor], dtype: torch.dtype, device: str) -> tuple[Tensor, Tensor]:
    return _as_model_input(pair[0], dtype, device), _as_model_input(pair[1], dtype, device)


@torch.no_grad()
def evaluate(model: StackedModel, task: Task, pair: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Mean loss and mean metric of every member on ``pair`` (on the model's device), ``(M,)`` each."""
    x, y = pair
    metric = task.selection_metric.function
    model.eval()
    loss_sum = torch.zeros(model.members, dtype=torch.float64, device=x.device)
    metric_sum = torch.zeros_like(loss_sum)
    batch = 4 * task.batch_size
    for start in range(0, len(x), batch):
        targets = y[start : start + batch]
        outputs = model(x[start : start + batch])
        loss_sum += model.per_member(task.objective, outputs, targets).double() * len(targets)
        metric_sum += model.per_member(metric, outputs, targets).double() * len(targets)
    model.train()
    return loss_sum / len(x), metric_sum / len(x)


def check_task(task: Task, device: str = "cpu") -> None:
    """One training step of two stacked members on the first batch, in the driver: a task whose
    model, loss or metric does not fit its data fails here, in one line, before any training."""
    try:
        model = task.make_model()
    except Exception as error:
        raise UsageError(f"task {task.name}: make_model() raised {one_line(error)}") from error
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"task {task.name}: make_model() must return an nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise UsageError(f"task {task.name}: the model has no trainable parameters")
    stacked = StackedModel(model.to(device), members=2)
    x, y = _on_device((task.train[0][: task.batch_size], task.train[1][: task.batch_size]), torch.float32, device)
    if task.loss is None and y.dtype != torch.int64:
        raise UsageError(
            f"task {task.name}: the default loss is cross-entropy over class labels, but the targets are {y.dtype}; "
            "give int64 labels (y.long()), or give the Task a loss, e.g. loss=torch.nn.functional.mse_loss"
        )
    try:
        with warnings.catch_warnings():  # torch's losses only warn when output and target broadcast
            warnings.filterwarnings("error", message="Using a target size")
            stacked.choose_batching(x, y, task.objective)
            outputs = stacked(x)
            needs_logits = [what for what, default in (("loss", task.loss is None),
                            ("metric", task.selection_metric is ACCURACY)) if default]  # fmt: skip
            if needs_logits and not isinstance(outputs, Tensor):
                raise UsageError(
                    f"task {task.name}: the model returns a {type(outputs).__name__}, and the default "
                    f"{' and '.join(needs_logits)} {'need' if len(needs_logits) > 1 else 'needs'} a tensor of "
                    f"logits; give the Task a {' and a '.join(needs_logits)} that can take the model's output"
                )
            losses = stacked.per_member(task.objective, outputs, y)
            losses.sum().backward()
            with torch.no_grad():
                scores = stacked.per_member(task.selection_metric.function, outputs, y)
    except UsageError:
        raise
    except Exception as error:
        shapes = f"output {_shapes(outputs)}, " if "outputs" in locals() else ""
        shapes += f"target {tuple(y.shape)} {y.dtype}"
        hint = (" (the default cross-entropy wants classes on the output's last dimension and labels of its other "
                "dimensions; else give the Task a loss)") if task.loss is None else ""  # fmt: skip
        raise UsageError(f"task {task.name}: one training batch failed ({shapes}): {one_line(error)}{hint}") from error
    for what, values in (("loss", losses), (f"metric ({task.selection_metric.name})", scores)):
        if values.shape != (2,):
            raise UsageError(
                f"task {task.name}: the {what} must return one number per batch, got shape {tuple(values.shape[1:])}"
            )
    if task.loss is not None and isinstance(outputs, Tensor):
        _refuse_a_broadcasting_loss(task, outputs[0].detach(), y)


def _refuse_a_broadcasting_loss(task: Task, output: Tensor, target: Tensor) -> None:
    """A ``(B, 1)`` output against ``(B,)`` targets (or the reverse) that the loss broadcasts to
    ``(B, B)``: it trains on every pair of examples. torch's losses warn, which the check makes an
    error; a hand-written loss is caught here, as the only loss that changes when the trailing 1
    is squeezed away. Float targets are replaced by random ones in [0, 1) for the comparison
    (constant targets, a batch sorted by label, would hide it) unless the loss refuses those."""
    if output.shape == (*target.shape, 1):
        column = "output"
    elif target.shape == (*output.shape, 1):
        column = "target"
    else:
        return
    candidates = [target]
    if target.is_floating_point():
        candidates.insert(0, torch.rand(target.shape, generator=torch.Generator().manual_seed(0)).to(target))
    for candidate in candidates:
        squeezed = (output.squeeze(-1), candidate) if column == "output" else (output, candidate.squeeze(-1))
        try:
            whole, again, apart = (
                _loss_with_fixed_randomness(task, output, candidate),
                _loss_with_fixed_randomness(task, output, candidate),
                _loss_with_fixed_randomness(task, *squeezed),
            )
        except Exception:  # the loss refuses these targets: try the real ones
            continue
        if not torch.allclose(whole, again) or torch.allclose(whole, apart):
            return  # a loss that gives another value each call (numpy's random numbers, a step count) cannot be told
        raise UsageError(
            f"task {task.name}: the loss broadcasts the output {tuple(output.shape)} against the target "
            f"{tuple(target.shape)} to every pair of examples; give them the same shape (e.g. y.unsqueeze(1))"
        )


@torch.no_grad()
def _loss_with_fixed_randomness(task: Task, output: Tensor, target: Tensor) -> Tensor:
    """The loss, with torch's random generator at the same state every call (a loss may draw random numbers)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return task.objective(output, target)


def _shapes(outputs: Any) -> str:
    """One member's output shapes: ``(B, K)``, or e.g. ``tuple[(B, K), (B,)]`` for a model returning several."""
    if isinstance(outputs, Tensor):
        return str(tuple(outputs.shape[1:]))
    leaves = [str(tuple(leaf.shape[1:])) for leaf in tree_leaves(outputs) if isinstance(leaf, Tensor)]
    return f"{type(outputs).__name__}[{', '.join(leaves)}]"


ProgressCallback = Callable[[int], None]
"""Called with the number of the epoch a unit just finished."""


def unit_key(runs: Sequence[RunConfig]) -> str:
    """A unit's identity (for its checkpoint file): the hash of its runs' keys."""
    return hashlib.sha256(" ".join(run.key for run in runs).encode()).hexdigest()[:24]


def train_unit(
    task: Task,
    runs: Sequence[RunConfig],
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    checkpoint: Path | None = None,
    on_epoch: ProgressCallback | None = None,
) -> list[RunResult]:
    """Train ``runs`` (one unit: all share ``RunConfig.unit``) as the members of one model.

    Random numbers for initialization, batch order and augmentation come from CPU
    generators, so a run sees the same data and starts from the same weights on every
    device. With ``checkpoint`` (a file path), the unit's state is saved there after every
    epoch and training resumes from it if it exists.
    """
    first = runs[0]
    assert all(run.unit == first.unit for run in runs), "a unit's runs must share task, method, seed, …"
    started = time.perf_counter()
    torch.manual_seed(first.seed)
    model = StackedModel(task.make_model().to(device, dtype), len(runs))
    train_x, train_y = _on_device(task.train, dtype, device)
    held_out = _on_device(task.held_out[1], dtype, device)
    batches = torch.Generator().manual_seed(first.seed)
    model.choose_batching(train_x[: first.batch_size], train_y[: first.batch_size], task.objective)

    base_lr = torch.tensor([run.lr for run in runs], dtype=torch.float64)
    decay = torch.tensor([run.weight_decay for run in runs], dtype=torch.float64)
    groups = model.param_groups(decay, decay_all=task.decay_all, no_decay=task.no_decay)
    optimizer = make_optimizer(
        first.method, groups, lr=base_lr, betas=first.betas, eps=first.eps, momentum=first.momentum
    )
    steps_per_epoch = math.ceil(len(train_x) / first.batch_size)
    etas = multipliers(schedule_of(task, first), first.epochs * steps_per_epoch)
    # weights whose scale BatchNorm removes: their norm and rotation are the effective learning rate
    tracked = {name: model.parameters[name] for name in batchnorm_fed_weights(model.module)}
    options = {"decay_all": task.decay_all, "no_decay": task.no_decay}
    probe = ProxAdamStep(model, optimizer, options) if PROXADAM_STEP in first.probes else None

    results = [RunResult(run) for run in runs]
    alive = torch.ones(len(runs), dtype=torch.bool, device=device)
    start_epoch, elapsed = 1, 0.0
    if checkpoint is not None and checkpoint.exists():
        try:
            start_epoch, elapsed = _resume(checkpoint, model, optimizer, batches, alive, results)
        except Exception:  # unreadable (a disk fault): the unit starts over, which costs time, not results
            checkpoint.unlink(missing_ok=True)
            return train_unit(task, runs, dtype, device, checkpoint, on_epoch)
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
            diverged = alive & ~torch.isfinite(losses.detach())
            (torch.where(alive & ~diverged, losses, 0.0).sum() * first.loss_scale).backward()
            if first.clip is not None:
                clip_per_member(list(model.parameters.values()), first.clip)
            sampled = batch_number % ROTATION_EVERY == 0
            before = {name: weight.detach().clone() for name, weight in tracked.items()} if sampled else {}
            eta = etas[(epoch - 1) * steps_per_epoch + batch_number]
            for group in optimizer.param_groups:
                group["lr"] = eta * group["peak_lr"]  # α·η_t (with per-member α, η_t itself)
            if probe is not None and batch_number == 0:
                probe.before_step()
            optimizer.step()
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
            _save(checkpoint, epoch, model, optimizer, batches, alive, results, elapsed + time.perf_counter() - started)
        if on_epoch is not None:
            on_epoch(epoch)
        if not alive.any():
            break

    if task.validation is not None:
        test_loss, test_metric = evaluate(model, task, _on_device(task.test, dtype, device))
    for i, result in enumerate(results):
        result.status = "done" if alive[i] else "diverged"
        if task.validation is None:  # the held-out split is the test split
            result.test = result.curves[-1][2:] if result.curves else None
        elif alive[i]:
            result.test = (float(test_loss[i]), float(test_metric[i]))
        result.seconds = (elapsed + time.perf_counter() - started) / len(runs)
    return results


@torch.no_grad()
def _stop(model: StackedModel, optimizer: torch.optim.Optimizer, members: Tensor, alive: Tensor) -> None:
    """Stop diverged ``members``: mark them dead, and zero their weights and moments.

    Their ``lr`` is 0 from now on and their loss is masked out, so they no longer
    move; zeroed weights and moments keep their arithmetic finite. Members share no
    arithmetic, so the rest are untouched.
    """
    alive &= ~members
    for group in optimizer.param_groups:
        if "member_lr" in group:  # a unit of one run is over once it diverged
            group["member_lr"][members.to(group["member_lr"].device)] = 0.0
    for param in model.parameters.values():
        param[members] = 0.0
        for moment in optimizer.state.get(param, {}).values():
            if moment.ndim > 0:
                moment[members] = 0.0


def _save(
    path: Path, epoch: int, model: StackedModel, optimizer: torch.optim.Optimizer, batches: torch.Generator,
    alive: Tensor, results: list[RunResult], elapsed: float,
) -> None:  # fmt: skip
    """The unit's whole state after ``epoch``, written atomically (a reader never sees half a file)."""
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "batches": batches.get_state(),
        "alive": alive.cpu(),
        "results": [(r.curves, r.layers, r.measurements) for r in results],
        "elapsed": elapsed,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def _resume(
    path: Path, model: StackedModel, optimizer: torch.optim.Optimizer, batches: torch.Generator,
    alive: Tensor, results: list[RunResult],
) -> tuple[int, float]:  # fmt: skip
    """Load a checkpoint written by :func:`_save`; return the epoch to continue from and the time spent."""
    state: dict[str, Any] = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    batches.set_state(state["batches"])
    alive.copy_(state["alive"])
    for result, (curves, layers, measurements) in zip(results, state["results"], strict=True):
        result.curves = [tuple(point) for point in curves]  # type: ignore[misc]
        result.layers = [tuple(entry) for entry in layers]  # type: ignore[misc]
        result.measurements = [tuple(entry) for entry in measurements]  # type: ignore[misc]
    return int(state["epoch"]) + 1, float(state["elapsed"])
