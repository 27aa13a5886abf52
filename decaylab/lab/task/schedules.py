"""Learning-rate schedules as the post's multiplier ``η_t``: the fraction of the peak ``α`` at step ``t``.

A schedule is ``η(step, total_steps)`` for 0-based optimizer steps, with values in ``[0, 1]``.
The trainer sets each group's ``lr`` to ``α·η_t``, so the schedule reaches every rule as the
post's ``η_t``: the paper form of AdamW and ProxAdam decay ``η_t·λ`` per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from decaylab.lab.errors import UsageError

Schedule = Callable[[int, int], float]
"""``η(step, total_steps)``: the schedule multiplier before optimizer step ``step`` (0-based)."""

WSD_DECAY_FRACTION = 0.2
"""Warmup-stable-decay: the last fifth of training decays linearly to 0 (Hägele et al. 2024)."""


def cosine(step: int, total: int) -> float:
    """``½(1 + cos(π·t/T))``: from 1 to 0 (Loshchilov & Hutter's annealing without restarts)."""
    return 0.5 * (1.0 + math.cos(math.pi * step / total))


def linear(step: int, total: int) -> float:
    """``1 − t/T``: a straight line from 1 to 0."""
    return 1.0 - step / total


def constant(step: int, total: int) -> float:
    """``1`` throughout."""
    return 1.0


def wsd(step: int, total: int) -> float:
    """Warmup-stable-decay: ``1`` until the last :data:`WSD_DECAY_FRACTION` of steps, then linear to 0."""
    decay_steps = max(1, round(WSD_DECAY_FRACTION * total))
    return min(1.0, (total - step) / decay_steps)


SCHEDULES: dict[str, Schedule] = {"cosine": cosine, "linear": linear, "constant": constant, "wsd": wsd}


def with_warmup(schedule: Schedule, warmup: float) -> Schedule:
    """``schedule`` after a linear warm-up over the first ``warmup`` fraction of the steps.

    During warm-up ``η_t = (t + 1)/W`` (the first step is not wasted at ``η = 0``); the
    schedule then runs over the remaining ``T − W`` steps.
    """
    if warmup == 0:
        return schedule

    def warmed_up(step: int, total: int) -> float:
        warmup_steps = min(total, max(1, round(warmup * total)))
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return schedule(step - warmup_steps, max(1, total - warmup_steps))

    return warmed_up


def multipliers(schedule: Schedule, total_steps: int) -> list[float]:
    """``η_t`` for every step, checked to lie in ``[0, 1]`` (a task's own schedule may be wrong)."""
    values = [float(schedule(step, total_steps)) for step in range(total_steps)]
    for step, eta in enumerate(values):
        if not 0.0 <= eta <= 1.0:
            raise UsageError(f"the schedule gives η = {eta} at step {step}; η_t must lie in [0, 1] (a fraction of α)")
    return values
