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


MAX_STEPS = 10**10
"""The most optimizer steps a run may take: a bound on a mistyped ``--epochs``, far past any real run."""
CHECKED_STEPS = 100_000
"""A schedule is checked before training at each of its steps up to this many, and beyond at this many evenly
spaced steps, its first and last among them."""


def check_length(total_steps: int) -> None:
    """A run's steps are within :data:`MAX_STEPS`: checked before anything is planned or allocated."""
    if not 1 <= total_steps <= MAX_STEPS:
        raise UsageError(f"a run must take between 1 and {MAX_STEPS:.0e} steps, got {total_steps:,}; give fewer epochs")


def multipliers(schedule: Schedule, total_steps: int) -> Callable[[int], float]:
    """``η_t`` as a function of the step (a step past the end keeps the last one's), computed as it is asked for,
    so a long run holds no list of them, and checked to lie in ``[0, 1]`` (a task's own schedule may be wrong)."""
    check_length(total_steps)

    def eta(step: int) -> float:
        step = min(step, total_steps - 1)
        value = float(schedule(step, total_steps))
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"the schedule gives η = {value} at step {step}; η_t must lie in [0, 1] (a fraction of α)")
        return value

    return eta


def check_schedule(schedule: Schedule, total_steps: int) -> None:
    """Raise :class:`UsageError` if ``schedule`` leaves ``[0, 1]`` at any step (:data:`CHECKED_STEPS`)."""
    eta, checked = multipliers(schedule, total_steps), min(total_steps, CHECKED_STEPS)
    for k in range(checked):
        eta(k * (total_steps - 1) // max(checked - 1, 1))
