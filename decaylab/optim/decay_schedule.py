"""A schedule for λ of its own, beside the learning rate's: ``λ_t = λ·μ_t``.

The paper form already decays ``η_t·λ`` per step, so λ follows the learning-rate schedule. Some recipes
give λ a schedule of its own on top (nanochat takes Muon's λ linearly to zero over training; optax users
ask for ``add_decayed_weights`` with a schedule). :class:`WeightDecaySchedule` is that second multiplier,
applied the way ``torch.optim.lr_scheduler.LambdaLR`` applies ``η_t``: it writes each group's
``weight_decay`` before every step, so it works with every decaylab optimizer and every rule, and with any
learning-rate scheduler beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch.optim import Optimizer

INITIAL_KEY = "initial_weight_decay"
"""The group key that holds λ (as ``initial_lr`` holds α for torch's schedulers)."""


def constant(step: int, total: int) -> float:
    """``μ_t = 1``: λ as given, throughout."""
    return 1.0


def cosine(step: int, total: int) -> float:
    """``μ_t = ½(1 + cos(π·t/T))``: from λ to 0 along a half cosine."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def linear(step: int, total: int) -> float:
    """``μ_t = 1 − t/T``: from λ to 0 in a straight line (nanochat's for Muon)."""
    return max(0.0, 1.0 - step / total)


DECAY_SCHEDULES: dict[str, Callable[[int, int], float]] = {"constant": constant, "cosine": cosine, "linear": linear}
"""``μ(step, total_steps)`` by name: the λ schedules a study can compare."""


class WeightDecaySchedule:
    """Sets each group's ``weight_decay`` to ``λ·μ(t, total_steps)`` before optimizer step ``t`` (0-based).

    ``shape`` is a name of :data:`DECAY_SCHEDULES` or a function ``μ(step, total)``. Call :meth:`step` after
    each ``optimizer.step()``, as with an lr scheduler. λ is read once from each group, when this is made (and
    kept in the group's ``initial_weight_decay``, so a checkpoint of the optimizer holds it); a group's per-member
    λ tensor is scaled as a whole.

    Example::

        optimizer = decaylab.optim.MuonW(params, lr=0.02, weight_decay=0.1)
        decay = WeightDecaySchedule(optimizer, "linear", total_steps=1000)
        for batch in batches:
            loss(batch).backward()
            optimizer.step(); decay.step(); optimizer.zero_grad()
    """

    def __init__(self, optimizer: Optimizer, shape: str | Callable[[int, int], float], total_steps: int):
        if isinstance(shape, str) and shape not in DECAY_SCHEDULES:
            raise ValueError(f"unknown decay schedule {shape!r}; choose from {', '.join(DECAY_SCHEDULES)}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.optimizer = optimizer
        self.multiplier = DECAY_SCHEDULES[shape] if isinstance(shape, str) else shape
        self.total_steps = total_steps
        self.last_step = 0
        for group in optimizer.param_groups:
            group.setdefault(INITIAL_KEY, group["weight_decay"])
        self._apply()

    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        multiplier = self.multiplier(self.last_step, self.total_steps)
        for group in self.optimizer.param_groups:  # a group loaded from a checkpoint without a schedule: its λ
            group["weight_decay"] = group.setdefault(INITIAL_KEY, group["weight_decay"]) * multiplier

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_step, self.total_steps = state["last_step"], state["total_steps"]
        self._apply()
