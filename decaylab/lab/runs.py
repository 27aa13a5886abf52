"""A run and a unit of runs: what determines a result, what a result holds, and their identities.

A run is one grid point (:class:`RunConfig`); its key, a hash of the whole configuration, is
its identity in the store. A unit is a list of runs that differ only in ``lr`` and ``λ`` and
train as the members of one stacked model; its key names its checkpoint file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

TASK_SCHEDULE = "task"
"""``RunConfig.schedule`` of a run that follows the task's own ``η(step, total)``."""


DECAYED = {
    "task": "as the task says (matrices and convolutions, unless it sets decay_all or no_decay)",
    "all": "every parameter: biases, norms and embeddings too",
    "matrices": "matrices and convolution kernels, embeddings among them; no biases or norms",
    "matrices-no-embeddings": "matrices and convolution kernels but not embedding tables",
}
"""Which parameters λ reaches: ``RunConfig.decayed`` and the ``--decayed`` option."""
LATER_FIELDS = {
    "decayed": "task",
    "decay_schedule": "constant",
    "adam_lr": None,
    "adam_weight_decay": None,
    "ns_dtype": "bfloat16",
}
"""The fields added to :class:`RunConfig` after stores held runs, with their defaults: the practitioners' choices
(:class:`~decaylab.lab.practice.Practice`)."""


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
    """Measurements to take along the way (:mod:`decaylab.lab.training.probes`), stored with the run."""
    decayed: str = "task"
    """Which parameters λ reaches (:data:`DECAYED`): the task's choice, or one of the practices a grid compares."""
    decay_schedule: str = "constant"
    """λ's own multiplier over training (:data:`decaylab.optim.DECAY_SCHEDULES`), beside the lr's ``η_t``."""
    adam_lr: float | None = None
    """The peak α of a Muon method's Adam half (None: the run's ``lr``)."""
    adam_weight_decay: float | None = None
    """The λ of a Muon method's Adam half (None: the run's ``weight_decay``)."""
    ns_dtype: str = "bfloat16"
    """The type a Muon method's Newton–Schulz computes in (:data:`decaylab.optim.reference.NS_DTYPES`): bfloat16 as
    ``torch.optim.Muon``; float32 where bfloat16 is slow (a CPU: 15–20 times, in ``benchmarks/newton_schulz.py``)."""

    @property
    def key(self) -> str:
        """A stable hash of the configuration: the run's identity in the store. Fields added after stores existed
        count only away from their defaults, so a run keeps the key it had before they were added."""
        fields = {name: value for name, value in asdict(self).items() if LATER_FIELDS.get(name, ...) != value}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]

    @property
    def unit(self) -> tuple[object, ...]:
        """What members of one stacked model must share: everything but ``lr`` and ``weight_decay``."""
        return tuple(value for name, value in asdict(self).items() if name not in ("lr", "weight_decay"))


Curve = tuple[int, float, float, float]
"""``(epoch, train_loss, held_out_loss, held_out_metric)``: one epoch on the split the best cell is chosen on."""


@dataclass
class RunResult:
    """A finished run, with per-epoch curves up to where it stopped. Its ``status`` is one of :data:`STATUSES`:
    ``diverged`` (its loss became non-finite), ``unstable`` (finite, but :attr:`unstable`) or ``done``."""

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
    initial_loss: float = math.nan
    """The training loss of the first minibatch, before any step."""

    @property
    def unstable(self) -> bool:
        """Whether the run ended worse than it started, or far above its best: its final training loss (the
        last epoch's mean) is half again its initial loss (the first minibatch's, whose own noise the half
        covers), or both ten times its lowest epoch's and more than half-way back from there to the initial
        loss. The learning rate was too large for it; a heavily decayed run, whose loss rises a little as the
        decay catches up, is neither."""
        if not self.curves or not math.isfinite(self.initial_loss):
            return False
        initial, final = self.initial_loss, self.curves[-1][1]
        lowest = min(curve[1] for curve in self.curves)
        if final > initial + 0.5 * abs(initial):
            return True
        return lowest > 0 and final > 10 * lowest and final - lowest > (initial - lowest) / 2

    @property
    def final(self) -> tuple[float, float, float]:
        """``(train_loss, held_out_loss, held_out_metric)`` of the last finished epoch (NaN if none)."""
        return self.curves[-1][1:] if self.curves else (math.nan, math.nan, math.nan)


STATUSES = ("done", "unstable", "diverged")


def unit_key(runs: Sequence[RunConfig]) -> str:
    """A unit's identity: the hash of its runs' keys."""
    return hashlib.sha256(" ".join(run.key for run in runs).encode()).hexdigest()[:24]


def checkpoint_path(checkpoints: Path, runs: Sequence[RunConfig]) -> Path:
    """Where a unit's per-epoch checkpoint lives in the study's checkpoint directory."""
    return checkpoints / f"{unit_key(runs)}.pt"


def weights_path(folder: Path, key: str) -> Path:
    """Where the trained weights of run ``key`` are kept (``decaylab study --keep``)."""
    return folder / f"{key}.pt"
