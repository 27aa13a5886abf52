"""A unit's whole state after an epoch, written atomically, and read back to resume it exactly; and its
members' trained weights at the end, each as its own module's ordinary ``state_dict``.

Weights and buffers, optimizer and schedule, the random generators and the curves so far: a unit
resumed from its checkpoint ends with the numbers of an uninterrupted run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from decaylab.lab.errors import one_line
from decaylab.lab.runs import RunResult, unit_key, weights_path
from decaylab.lab.training.stacking import StackedModel
from decaylab.optim import DecayOptimizer, WeightDecaySchedule


@dataclass
class UnitState:
    """What a unit carries from one epoch to the next."""

    model: StackedModel
    optimizer: DecayOptimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    decay_schedule: WeightDecaySchedule
    batches: torch.Generator
    """Draws the batch order and augmentation."""
    alive: Tensor
    """Per member: not diverged."""
    results: list[RunResult]


def save(path: Path, epoch: int, unit: UnitState, elapsed: float) -> None:
    """The unit's state after ``epoch``."""
    state = {
        "unit": unit_key([result.config for result in unit.results]),
        "epoch": epoch,
        "model": unit.model.state_dict(),
        "optimizer": unit.optimizer.state_dict(),
        "schedule": unit.schedule.state_dict(),
        "decay_schedule": unit.decay_schedule.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "batches": unit.batches.get_state(),
        "alive": unit.alive.cpu(),
        "results": [(r.curves, r.layers, r.measurements, r.initial_loss) for r in unit.results],
        "elapsed": elapsed,
    }
    _write(path, state)


def save_weights(folder: Path, unit: UnitState) -> None:
    """Every member that did not diverge, as ``FOLDER/KEY.pt``: the ``state_dict`` of one ``make_model()``."""
    for member, result in enumerate(unit.results):
        if unit.alive[member]:
            state = {name: tensor.cpu() for name, tensor in unit.model.member_state_dict(member).items()}
            _write(weights_path(folder, result.config.key), state)


def _write(path: Path, state: dict[str, Any]) -> None:
    """Written to a temporary file and renamed: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        torch.save(state, partial)
    except (RuntimeError, OSError) as error:  # torch's writer reports a full disk as a C++ RuntimeError
        partial.unlink(missing_ok=True)
        raise OSError(f"cannot write {path} (a full or read-only disk?): {one_line(error)}") from error
    os.replace(partial, path)


class NotThisUnit(Exception):
    """A checkpoint written by another unit (a file renamed or copied over): never loaded."""


def resume(path: Path, unit: UnitState) -> tuple[int, float]:
    """Load a checkpoint written by :func:`save` into ``unit``; return the epoch to continue from and the
    time spent so far. :class:`NotThisUnit` if it records another unit's runs (or none)."""
    state: dict[str, Any] = torch.load(path, weights_only=True)
    if state.get("unit") != unit_key([result.config for result in unit.results]):
        raise NotThisUnit(f"{path.name} holds the state of another unit")
    unit.model.load_state_dict(state["model"])
    unit.optimizer.load_state_dict(state["optimizer"])
    unit.schedule.load_state_dict(state["schedule"])
    unit.decay_schedule.load_state_dict(state["decay_schedule"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"]:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    unit.batches.set_state(state["batches"])
    unit.alive.copy_(state["alive"])
    for result, (curves, layers, measurements, initial_loss) in zip(unit.results, state["results"], strict=True):
        result.initial_loss = float(initial_loss)
        result.curves = [tuple(point) for point in curves]  # type: ignore[misc]
        result.layers = [tuple(entry) for entry in layers]  # type: ignore[misc]
        result.measurements = [tuple(entry) for entry in measurements]  # type: ignore[misc]
    return int(state["epoch"]) + 1, float(state["elapsed"])
