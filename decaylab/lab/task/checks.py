"""What makes a task valid, checked in one place: its fields when it is made, then one training batch
and the reach of its decay rule in the driver, before any training. Each failure is one line
(:class:`~decaylab.lab.errors.UsageError`) saying what to fix.

The batch check trains two stacked members (:mod:`decaylab.lab.training.stacking`): a task is valid
when decaylab can train it.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_leaves

from decaylab.lab.errors import UsageError, one_line
from decaylab.lab.task.objectives import ACCURACY
from decaylab.lab.task.schedules import SCHEDULES, multipliers
from decaylab.lab.training.stacking import StackedModel, compiled, on_device
from decaylab.optim import param_groups

if TYPE_CHECKING:
    from decaylab.lab.task.contract import Task


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
            multipliers(task.schedule, steps)
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


def check_one_batch(task: Task, device: str = "cpu") -> None:
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
    if compiled(model):
        print(
            f"decaylab: task {task.name}: make_model() returns a torch.compile'd module; its members train the "
            "module it wraps, eagerly (a compiled graph does not run under the members' functional_call)",
            file=sys.stderr,
        )
    stacked = StackedModel(model.to(device), members=2)
    x, y = on_device((task.train[0][: task.batch_size], task.train[1][: task.batch_size]), torch.float32, device)
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
            needs_logits = [
                what
                for what, default in (("loss", task.loss is None), ("metric", task.selection_metric is ACCURACY))
                if default
            ]
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
        hint = (
            (
                " (the default cross-entropy wants classes on the output's last dimension and labels of its other "
                "dimensions; else give the Task a loss)"
            )
            if task.loss is None
            else ""
        )
        raise UsageError(f"task {task.name}: one training batch failed ({shapes}): {one_line(error)}{hint}") from error
    for what, values in (("loss", losses), (f"metric ({task.selection_metric.name})", scores)):
        if values.shape != (2,):
            raise UsageError(
                f"task {task.name}: the {what} must return one number per batch, got shape {tuple(values.shape[1:])}"
            )
    if bool(torch.isfinite(losses).all()) and not bool(torch.isfinite(scores).all()):
        print(
            f"decaylab: task {task.name}: the metric ({task.selection_metric.name}) is not finite on the first "
            "batch; a run whose metric is not finite after an epoch is stored as diverged",
            file=sys.stderr,
        )
    if task.loss is not None and isinstance(outputs, Tensor):
        _refuse_a_broadcasting_loss(task, outputs[0].detach(), y)
    if task.loss is None and isinstance(outputs, Tensor):
        _refuse_labels_out_of_range(task, classes=outputs.shape[-1])


def _refuse_labels_out_of_range(task: Task, classes: int) -> None:
    """The default cross-entropy takes labels ``0 … K−1`` (``K``: the model's last output dimension), checked
    over the whole of every split: a bad label past the first batch would fail in a worker, mid-training."""
    splits = {"train": task.train, "validation": task.validation, "test": task.test}
    for split, pair in splits.items():
        if pair is None:
            continue
        labels = pair[1].reshape(-1)
        outside = ((labels < 0) | (labels >= classes)).nonzero()
        if len(outside):
            where = int(outside[0])
            raise UsageError(
                f"task {task.name}: the default cross-entropy takes labels 0 … {classes - 1} (the model's last "
                f"output dimension), but {split} example {where} has label {int(labels[where])}; "
                "fix the labels or the model"
            )


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


def check_decay_reaches_the_model(task: Task, weight_decays: Iterable[float]) -> None:
    """A λ grid over a model whose parameters the task's decay rule all exempts is an error, not a study."""
    if not any(decay > 0 for decay in weight_decays):
        return
    model = task.make_model()
    groups = param_groups(model, 1.0, decay_all=task.decay_all, no_decay=task.no_decay)
    if any(group["weight_decay"] for group in groups):
        return
    if task.no_decay and any(group["weight_decay"] for group in param_groups(model, 1.0, decay_all=task.decay_all)):
        why = f"the Task's no_decay={task.no_decay!r} exempts every parameter param_groups would decay"
        fix = "narrow no_decay"
    else:
        why = "param_groups exempts biases, 1-D and normalization parameters"
        fix = "set decay_all=True in the Task (and no_decay for what it should spare)"
    raise UsageError(f"task {task.name}: no parameter is decayed ({why}), so every λ would give the same result; {fix}")


def check_muon_has_matrices(task: Task, methods: Iterable[str]) -> None:
    """A Muon method on a model with no matrix for Muon's direction would be Adam under another name: an error."""
    muon_methods = sorted({method for method in methods if task.group_options(method)["muon"]})
    if not muon_methods:
        return
    groups = param_groups(task.make_model(), 1.0, **task.group_options(muon_methods[0]))
    if not any(group["direction"] == "muon" and group["params"] for group in groups):
        raise UsageError(
            f"task {task.name}: {', '.join(muon_methods)} orthogonalize matrices, and this model has none outside "
            f"embeddings and adam_for={task.adam_for!r} (convolution kernels take Adam's direction); "
            "choose a task with linear layers"
        )
