"""The axes λ* is measured along, the settings on them, and the task each setting trains.

An axis is one of ``N`` (training examples), ``epochs``, ``batch``, ``lr`` (the peak learning rate α) and
``width`` (the model's, where ``make_model`` takes a ``width``). A setting fixes all five; the base
setting is where every axis meets, and each other setting moves one axis away from it. The largest
value of each axis is held out: predicted from the others, then measured.

Training sets of N examples are drawn from the task's pool (its training set, and for the built-in
MNIST-1D tasks 28,000 more generated examples): each seed draws its own, nested in N (the first N of
the seed's permutation of the pool), so the spread between seeds includes that of the training set, as
it does for anyone who collects a data set. A setting that uses the whole pool uses it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import torch

from decaylab.lab.errors import UsageError
from decaylab.lab.task.builtin.catalogue import BUILT_IN
from decaylab.lab.task.contract import Pair, Task
from decaylab.lab.task.variants import OWN_TRAINING_SET, drawn_examples, model_width, with_width

LABELS = {
    "N": "training examples N",
    "epochs": "epochs T",
    "batch": "batch size B",
    "lr": "learning rate α",
    "width": "width d",
}
"""Every axis, by the name ``--to`` and ``--axes`` use."""


@dataclass(frozen=True)
class Setting:
    """One point of every axis."""

    N: int
    epochs: int
    batch: int
    lr: float
    width: int | None
    """None: the model takes no width (its own)."""

    AXES: ClassVar[tuple[str, ...]] = tuple(LABELS)

    def value(self, axis: str) -> float:
        value = getattr(self, axis)
        return math.nan if value is None else float(value)

    def moved(self, axis: str, value: float) -> Setting:
        """This setting with ``axis`` at ``value`` (a whole number ≥ 1 but for ``lr``)."""
        if axis != "lr" and not (float(value).is_integer() and value >= 1):
            raise UsageError(f"{axis} must be a whole number >= 1, got {value:g}")
        moved: dict[str, Any] = {axis: value if axis == "lr" else int(value)}
        return replace(self, **moved)

    def __str__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return ", ".join(f"{name}={value:g}" for name, value in shown.items())


@dataclass(frozen=True)
class Pool:
    """The training examples settings draw from, and its name in run keys."""

    examples: Pair
    name: str

    @property
    def size(self) -> int:
        return len(self.examples[0])


def pool_of(task: Task, spec: str | None, data_dir: Path | None, largest: int) -> Pool:
    """The task's training set, with more examples where a setting needs more and the task can make them."""
    own = len(task.train[0])
    if largest <= own:
        return Pool(task.train, OWN_TRAINING_SET)
    built_in = BUILT_IN.get(spec or "")
    more = built_in.more_examples if built_in is not None else None
    if more is None:
        raise UsageError(
            f"task {task.name} has {own} training examples and cannot make more for N={largest}; "
            f"give N values up to {own}"
        )
    x, y = more.load(data_dir)
    if own + len(x) < largest:
        raise UsageError(f"task {task.name} can train on at most {own + len(x)} examples; N={largest} is more")
    return Pool((torch.cat([task.train[0], x]), torch.cat([task.train[1], y])), f"{OWN_TRAINING_SET} + {more.name}")


def setting_task(task: Task, pool: Pool, setting: Setting, seed: int) -> Task:
    """The task ``setting`` trains for ``seed``: its training set drawn from the pool, its model's width."""
    variant = drawn_examples(task, pool.examples, pool.name, setting.N, seed)
    if setting.width is not None and setting.width != model_width(task):
        variant = with_width(variant, setting.width)
    return variant


def base_setting(task: Task, lr: float) -> Setting:
    """The task's own setting at ``lr``."""
    return Setting(len(task.train[0]), task.epochs, task.batch_size, lr, model_width(task))


@dataclass(frozen=True)
class Axes:
    """Where λ* is measured: the base setting and, per axis, its values (the base's among them)."""

    base: Setting
    values: dict[str, tuple[float, ...]]

    def __post_init__(self) -> None:
        for axis, values in self.values.items():
            if axis not in LABELS:
                raise UsageError(f"unknown axis {axis!r}; choose from {', '.join(LABELS)}")
            if axis == "width" and self.base.width is None:
                raise UsageError("the width axis needs a make_model that takes width=…")
            if any(not (math.isfinite(v) and v > 0) for v in values):
                raise UsageError(f"the {axis} axis needs values > 0, got {', '.join(f'{v:g}' for v in values)}")
            ordered = tuple(sorted({*values, self.base.value(axis)}))
            if len(ordered) < 3 or ordered[-1] == self.base.value(axis):
                raise UsageError(
                    f"the {axis} axis needs at least two values besides the held-out largest, and a base "
                    f"({self.base.value(axis):g}) below the largest; got {', '.join(f'{v:g}' for v in ordered)}"
                )
            object.__setattr__(self, "values", {**self.values, axis: ordered})

    @property
    def held_out(self) -> dict[str, Setting]:
        """Per axis, the setting at its largest value."""
        return {axis: self.base.moved(axis, values[-1]) for axis, values in self.values.items()}

    @property
    def settings(self) -> list[Setting]:
        """Every setting, the base first, then each axis's in order (each once)."""
        found = [self.base, *(self.base.moved(a, v) for a, values in self.values.items() for v in values)]
        return list(dict.fromkeys(found))

    @property
    def largest_n(self) -> int:
        return int(max(self.values.get("N", (self.base.N,))))


MNIST1D_AXES = {
    "N": (4000, 8000, 16000, 32000),
    "epochs": (8, 15, 30, 60),
    "batch": (25, 50, 100, 200),
    "lr": (1e-3, 3e-3, 1e-2, 3e-2),
    "width": (25, 50, 100, 200),
}
DEFAULT_AXES: dict[str, Mapping[str, tuple[float, ...]]] = {
    "mnist1d-mlp": MNIST1D_AXES,
    "mnist1d-mlp-bn": MNIST1D_AXES,
    "mnist1d-cnn": {"N": MNIST1D_AXES["N"], "epochs": MNIST1D_AXES["epochs"]},
    "mnist1d-cnn-bn": {"N": MNIST1D_AXES["N"], "epochs": MNIST1D_AXES["epochs"]},
    "ridge": {"lr": (1e-3, 3e-3, 1e-2, 3e-2), "epochs": (13, 25, 50, 100)},
    "charlm": {"epochs": (2, 3, 6, 12), "width": (32, 64, 128)},
}
"""Each built-in task's axes for ``decaylab transfer``, the held-out value last. MNIST-1D's N doubles from the
published 4,000 to 32,000 (with the generated examples): a power law is local, and λ* against N bends
below a few thousand examples (``docs/design-notes.md``), so the law is fitted on the octaves below the
target rather than across two decades."""
QUICK_EPOCHS = 6


def default_axes(name: str, task: Task, lr: float, quick: bool) -> Axes:
    """A task's default axes at ``lr``: its table in :data:`DEFAULT_AXES`, or for a task of the user's, its
    training set and length halved, quartered and doubled (N only down). ``quick``: a smoke run, a quarter
    of the training set and at most :data:`QUICK_EPOCHS` epochs at the base, and two axes."""
    base = base_setting(task, lr)
    if quick:
        epochs = max(2, min(QUICK_EPOCHS, base.epochs))
        base = replace(base, N=max(4, base.N // 4), epochs=epochs)
        return Axes(
            base, {"N": (base.N // 4, base.N // 2, base.N, 2 * base.N), "epochs": (epochs // 2, epochs, 2 * epochs)}
        )
    if name in DEFAULT_AXES:
        return Axes(base, dict(DEFAULT_AXES[name]))
    epochs, examples = base.epochs, base.N
    base = replace(base, N=examples // 2)
    return Axes(
        base,
        {
            "N": (examples // 8, examples // 4, examples // 2, examples),
            "epochs": (max(1, epochs // 4), max(1, epochs // 2), epochs, 2 * epochs),
        },
    )


def choose_axes(
    name: str, task: Task, lr: float, quick: bool, names: Sequence[str] | None, values: Mapping[str, Sequence[float]]
) -> Axes:
    """The task's default axes, narrowed to ``names`` if given, with the ``values`` given for any axis (which
    adds it). An axis whose given values leave the default base out, or hold it out as the largest, is
    based at its second-largest value."""
    defaults = default_axes(name, task, lr, quick)
    chosen, base = dict(defaults.values), defaults.base
    if names is not None:
        unknown = [axis for axis in names if axis not in LABELS]
        if unknown:
            raise UsageError(f"unknown axis {unknown[0]!r}; choose from {', '.join(LABELS)}")
        missing = [axis for axis in names if axis not in chosen and axis not in values]
        if missing:
            flag = "--lrs" if missing[0] == "lr" else f"--{missing[0]}"
            raise UsageError(
                f"the {missing[0]} axis has no default values for {name or task.name}; give them with {flag}"
            )
        chosen = {axis: chosen[axis] for axis in names if axis in chosen}
    if "width" in values and base.width is None:
        raise UsageError(f"the width axis needs a make_model that takes width=…; {task.name}'s does not")
    for axis, given in values.items():
        ordered = sorted({float(v) for v in given})
        chosen[axis] = tuple(ordered)
        if axis in LABELS and len(ordered) >= 2 and base.value(axis) not in ordered[:-1]:
            base = base.moved(axis, ordered[-2])
    if not chosen:
        raise UsageError("no axis to measure along; give --axes or an axis's values")
    return Axes(base, chosen)


def target_setting(base: Setting, values: Mapping[str, float]) -> Setting:
    """The base setting moved to the target's ``values``."""
    target = base
    for axis, value in values.items():
        if axis == "width" and base.width is None:
            raise UsageError("a target width needs a make_model that takes width=…")
        target = target.moved(axis, value)
    return target
