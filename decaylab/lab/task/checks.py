"""Checks of a task against what a study asks of it, in the driver before any training: that its decay rule
reaches the model at all, and that a Muon method finds matrices. Each failure is one line
(:class:`~decaylab.lab.errors.UsageError`) saying what to fix. A task's own fields are checked when it is made
(:func:`~decaylab.lab.task.contract.check_fields`), one training batch when it is prepared
(:func:`~decaylab.lab.training.trial.prepare_task`).
"""

from __future__ import annotations

from collections.abc import Iterable

from decaylab.lab.errors import UsageError
from decaylab.lab.task.contract import Task
from decaylab.optim import param_groups


def check_decay_reaches_the_model(task: Task, weight_decays: Iterable[float], decayed: str = "task") -> None:
    """A λ grid over a model whose parameters the task's decay rule (or the ``decayed`` practice asked for) all
    exempts is an error, not a study."""
    if not any(decay > 0 for decay in weight_decays):
        return
    model = task.make_model()
    if any(group["weight_decay"] for group in param_groups(model, 1.0, **task.decayed_options(decayed))):
        return
    if decayed != "task":
        raise UsageError(
            f"task {task.name}: --decayed {decayed} decays no parameter of its model, so every λ would give the "
            "same result; choose --decayed all"
        )
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


def check_adam_half_exists(
    task: Task, methods: Iterable[str], decayed: str, adam_lr: float | None, adam_weight_decay: float | None
) -> None:
    """An α or λ given to Muon's Adam half that no parameter of the model would take is an error: the runs would
    be the usual ones under other keys."""
    muon_methods = sorted({method for method in methods if task.group_options(method)["muon"]})
    if not muon_methods or (adam_lr is None and adam_weight_decay is None):
        return
    groups = param_groups(task.make_model(), 1.0, **task.group_options(muon_methods[0], decayed))
    adam = [group for group in groups if group["direction"] == "adam"]
    if adam_lr is not None and not adam:
        raise UsageError(f"task {task.name}: --adam-lr sets the α of Muon's Adam half, and this model has none")
    if adam_weight_decay is not None and not any(group["weight_decay"] for group in adam):
        raise UsageError(
            f"task {task.name}: --adam-wd sets the λ of Muon's Adam half, and none of its parameters is decayed "
            "(biases and norms are spared; matrices take Muon's direction): leave --adam-wd out, or give --decayed all"
        )
