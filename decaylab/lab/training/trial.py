"""A task tried before any run trains it: loaded, one batch trained through two stacked members in the driver,
and given its identity for the run keys (:func:`prepare_task`). A task is valid when decaylab can train it, so
a model, loss or metric that does not fit its data fails here in one line, not in a worker mid-training."""

from __future__ import annotations

import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils._pytree import tree_leaves

from decaylab.lab.errors import UsageError, one_line
from decaylab.lab.task.builtin.catalogue import BUILT_IN
from decaylab.lab.task.contract import Task
from decaylab.lab.task.identity import code_identity
from decaylab.lab.task.loading import load_task
from decaylab.lab.task.objectives import ACCURACY
from decaylab.lab.training.stacking import StackedModel, compiled, on_device


def prepare_task(source: str | Task, data_dir: Path | None = None, device: str = "cpu") -> Task:
    """Load and check a task in the driver, and give it its identity for the run keys.

    Bad tasks fail here in one line, before any training: one batch goes forward and
    backward through two stacked members (:func:`check_one_batch`).
    """
    task = load_task(source, data_dir) if isinstance(source, str) else source
    check_one_batch(task, device)
    if isinstance(source, str) and source in BUILT_IN:
        return task
    try:
        identity = code_identity(task, source if isinstance(source, str) else None)
    except Exception as error:  # an object the walk cannot read: say so in one line
        raise UsageError(f"task {task.name}: could not read its code for the run keys: {one_line(error)}") from error
    return replace(task, identity=identity)


def check_one_batch(task: Task, device: str = "cpu") -> None:
    """One training step of two stacked members on the first batch, in the driver: a task whose
    model, loss or metric does not fit its data fails here, in one line, before any training."""
    check_last_batch(task, len(task.train[0]), task.batch_size, device)
    stacked = StackedModel(_made_model(task).to(device), members=2)
    x, y = on_device((task.train[0][: task.batch_size], task.train[1][: task.batch_size]), torch.float32, device)
    if task.loss is None and y.dtype != torch.int64:
        raise UsageError(
            f"task {task.name}: the default loss is cross-entropy over class labels, but the targets are {y.dtype}; "
            "give int64 labels (y.long()), or give the Task a loss, e.g. loss=torch.nn.functional.mse_loss"
        )
    outputs, losses, scores = _one_step(task, stacked, x, y)
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


def check_last_batch(task: Task, examples: int, batch: int, device: str = "cpu") -> None:
    """``examples`` in batches of ``batch`` end in a batch of one example when ``examples % batch == 1``: a model
    that cannot train on one example (BatchNorm over one value per channel) is refused here, naming N, not after
    every run before it has trained."""
    if examples % batch != 1 or examples == 1:
        return
    model = _made_model(task).to(device).train()
    x, _ = on_device((task.train[0][:1], task.train[1][:1]), torch.float32, device)
    try:
        model(x)
    except Exception as error:
        raise UsageError(
            f"task {task.name}: N={examples} in batches of {batch} leaves a last batch of one example, and the model "
            f"cannot train on one ({one_line(error)}); give an N (or a batch) that leaves no batch of one"
        ) from None


def _made_model(task: Task) -> torch.nn.Module:
    """The task's model, made once: a module with something to train."""
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
    return model


def _one_step(task: Task, stacked: StackedModel, x: Tensor, y: Tensor) -> tuple[Any, Tensor, Tensor]:
    """Forward, the loss's backward and the metric, through two stacked members: the outputs, the two losses and
    the two scores. An error names the shapes of output and target."""
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
    return outputs, losses, scores


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
