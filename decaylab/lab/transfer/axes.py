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
from decaylab.lab.training.trial import check_last_batch


@dataclass(frozen=True)
class Axis:
    """An axis λ* can be measured along: everything the rest of the transfer needs to know of it."""

    name: str
    """How ``--axes``, ``--to`` and the :class:`Setting` field spell it."""
    label: str
    flag: str
    """The command-line flag of its values."""
    whole: bool = True
    """Its values are whole numbers ≥ 1 (all but α)."""
    shapes_task: bool = False
    """Moving it changes the task a seed trains (its data, its model), not only the run's settings."""
    run_option: str | None = None
    """The :class:`~decaylab.lab.runs.RunConfig` field it sets, if any."""
    torch_shift: float = 0.0
    """Added to an exponent of ``log λ_paper`` along it to read it for ``λ_torch``: −1 along α
    (λ_torch = λ_paper/α)."""
    epoch_shift: float = 0.0
    """Added to the exponent of ``τ_iter`` along it to read that of ``τ_epoch = B/(N·λ_paper)``: +1 along B,
    −1 along N."""


AXES = {
    axis.name: axis
    for axis in (
        Axis("N", "training examples N", "--N", shapes_task=True, epoch_shift=-1.0),
        Axis("epochs", "epochs T", "--epochs", run_option="epochs"),
        Axis("batch", "batch size B", "--batch", run_option="batch_size", epoch_shift=1.0),
        Axis("lr", "learning rate α", "--lrs", whole=False, run_option="lr", torch_shift=-1.0),
        Axis("width", "width d", "--width", shapes_task=True),
    )
}
"""Every axis, by name; a :class:`Setting` has a field of each."""
LABELS = {name: axis.label for name, axis in AXES.items()}


LARGEST = 1e12
"""The largest value of any axis: past it a value is a typo (``--to epochs=1e300`` once overflowed)."""


@dataclass(frozen=True)
class Setting:
    """One point of every axis."""

    N: int
    epochs: int
    batch: int
    lr: float
    width: int | None
    """None: the model takes no width (its own)."""

    AXES: ClassVar[tuple[str, ...]] = tuple(AXES)

    def value(self, axis: str) -> float:
        value = getattr(self, axis)
        return math.nan if value is None else float(value)

    def moved(self, axis: str, value: float) -> Setting:
        """This setting with ``axis`` at ``value`` (a whole number ≥ 1 on a whole axis)."""
        whole = AXES[axis].whole
        if whole and not (float(value).is_integer() and value >= 1):
            raise UsageError(f"{axis} must be a whole number >= 1, got {value:g}")
        if not value <= LARGEST:
            raise UsageError(f"{axis} must be at most {LARGEST:.0e}, got {value:g}")
        moved: dict[str, Any] = {axis: int(value) if whole else value}
        return replace(self, **moved)

    @property
    def task_key(self) -> tuple[Any, ...]:
        """What tells the tasks of two settings apart (their values of the axes that shape the task)."""
        return tuple(getattr(self, name) for name, axis in AXES.items() if axis.shapes_task)

    def run_options(self) -> dict[str, Any]:
        """The run settings it fixes, by :class:`~decaylab.lab.runs.RunConfig` field."""
        return {axis.run_option: getattr(self, name) for name, axis in AXES.items() if axis.run_option}

    def trained(self, axis: str) -> Any:
        """The value the runs train with: a batch larger than N is N (the whole set, one batch a step)."""
        return min(self.batch, self.N) if axis == "batch" else getattr(self, axis)

    def __str__(self) -> str:
        shown = {f.name: self.trained(f.name) for f in fields(self) if getattr(self, f.name) is not None}
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
            if getattr(self.base, axis) is None:  # the model takes no width
                raise UsageError(f"the {axis} axis needs a make_model that takes {axis}=…")
            if any(not (math.isfinite(v) and 0 < v <= LARGEST) for v in values):
                raise UsageError(
                    f"the {axis} axis needs values > 0 and at most {LARGEST:.0e}, "
                    f"got {', '.join(f'{v:g}' for v in values)}"
                )
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


CNN_N = (2000, 4000, 8000)
"""The CNN's N axis: at 30 epochs its λ* is flat from 16,000 examples on (λ does not matter there), and the
octaves past 8,000 cost 70% of a transfer that ran them (61 min; ``docs/design-notes.md``)."""
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
    "mnist1d-cnn": {"N": CNN_N, "epochs": MNIST1D_AXES["epochs"]},
    "mnist1d-cnn-bn": {"N": CNN_N, "epochs": MNIST1D_AXES["epochs"]},
    "ridge": {"lr": (1e-3, 3e-3, 1e-2, 3e-2), "epochs": (13, 25, 50, 100)},
    "charlm": {"epochs": (2, 3, 6, 12), "width": (32, 64, 128)},
}
"""Each built-in task's axes for ``decaylab transfer``, the held-out value last. MNIST-1D's N doubles from the
published 4,000 to 32,000 (with the generated examples): a power law is local, and λ* against N bends
below a few thousand examples (``docs/design-notes.md``), so the law is fitted on the octaves below the
target rather than across two decades."""
QUICK_EPOCHS = 6


def at_least_a_batch(sizes: tuple[int, ...], batch: int) -> dict[str, tuple[int, ...]]:
    """A default N axis of the ``sizes`` that hold a whole batch (a smaller one trains full-batch, a batch of
    another size than the one the setting is labelled with); none where fewer than three are left."""
    whole = tuple(size for size in sizes if size >= batch)
    return {"N": whole} if len(whole) >= 3 else {}


def default_axes(name: str, task: Task, lr: float, quick: bool) -> Axes:
    """A task's default axes at ``lr``: its table in :data:`DEFAULT_AXES`, or for a task of the user's, its
    training set and length halved, quartered and doubled (N only down). ``quick``: a smoke run, a quarter
    of the training set and at most :data:`QUICK_EPOCHS` epochs at the base, and two axes."""
    base = base_setting(task, lr)
    if quick:
        epochs = max(2, min(QUICK_EPOCHS, base.epochs))
        base = replace(base, N=max(4, base.N // 4), epochs=epochs)
        sizes = at_least_a_batch((base.N // 4, base.N // 2, base.N, 2 * base.N), base.batch)
        return Axes(base, {**sizes, "epochs": (epochs // 2, epochs, 2 * epochs)})
    if name in DEFAULT_AXES:
        return Axes(base, dict(DEFAULT_AXES[name]))
    epochs, examples = base.epochs, base.N
    base = replace(base, N=examples // 2)
    sizes = at_least_a_batch((examples // 8, examples // 4, examples // 2, examples), base.batch)
    return Axes(base, {**sizes, "epochs": (max(1, epochs // 4), max(1, epochs // 2), epochs, 2 * epochs)})


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
            flag = AXES[missing[0]].flag
            raise UsageError(
                f"the {missing[0]} axis has no default values for {name or task.name}; give them with {flag}"
            )
        chosen = {axis: chosen[axis] for axis in names if axis in chosen}
    unmade = [axis for axis in values if axis in AXES and getattr(base, axis) is None]  # the model takes no width
    if unmade:
        raise UsageError(f"the {unmade[0]} axis needs a make_model that takes {unmade[0]}=…; {task.name}'s does not")
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
        if getattr(base, axis) is None:
            raise UsageError(f"a target {axis} needs a make_model that takes {axis}=…")
        target = target.moved(axis, value)
    return target


def check_batches(task: Task, base: Setting, trained: Sequence[Setting], device: str) -> None:
    """Before any training: a batch axis point above N would train full-batch at N, as another point; and a
    last batch of one example must be one the model can train on (:func:`check_last_batch`)."""
    for setting in trained:
        if setting.batch != base.batch and setting.batch > setting.N:  # another batch axis point, trained as N
            raise UsageError(
                f"a batch of {setting.batch:g} is larger than the training set at {setting}; "
                "give smaller --batch values or larger --N"
            )
        check_last_batch(task, setting.N, setting.batch, device)
