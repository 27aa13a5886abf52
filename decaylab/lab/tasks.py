"""A task: data, an ordinary model, its objective and training length — what a study trains.

Built in (``decaylab study --help`` lists them): MNIST-1D with an MLP or 1-D CNN, with and
without BatchNorm; CIFAR-10 with ResNet-20; ``ridge`` regression; ``charlm``, a small
character-level transformer. A user's own task is ``path/to/file.py:make_task``, where
``make_task()`` returns a :class:`Task`, or a :class:`Task` handed to :func:`decaylab.study`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from decaylab.lab import datasets, models
from decaylab.lab.errors import UsageError
from decaylab.lab.fingerprint import code_fingerprint, is_user_file
from decaylab.lab.objectives import Loss, Metric, bits_per_character, cross_entropy, resolve_metric
from decaylab.lab.schedules import SCHEDULES, Schedule

Pair = tuple[Tensor, Tensor]
Augment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass(frozen=True)
class Task:
    """What a study trains. Only ``name``, the data and ``make_model`` are required.

    - ``train``, ``test``, ``validation``: ``(inputs, targets)`` tensor pairs held in memory.
      Inputs keep their dtype (token ids stay integers); targets may have any shape. The best
      cell is chosen on ``validation`` (on ``test`` if there is none) and reported on ``test``.
    - ``make_model()`` returns ONE ordinary ``nn.Module``; decaylab stacks the members itself.
    - ``loss(output, target)``: the mean loss of one model's batch (default: cross-entropy
      over the last dimension). ``metric``: ``"accuracy"``, ``"loss"`` (lower is better), a
      :class:`~decaylab.lab.objectives.Metric`, or a callable score (higher is better; wrap an
      error or a loss in a ``Metric`` with ``higher_is_better=False``). Left out: accuracy for
      the default cross-entropy, the task's own loss when it has one.
    - ``epochs``, ``batch_size``; ``schedule`` (a name in :data:`~decaylab.lab.schedules.SCHEDULES`
      or ``η(step, total) → [0, 1]``) and ``warmup`` (a fraction of the steps); ``betas``,
      ``eps`` (Adam), ``momentum`` (SGD); ``clip``: the largest gradient norm, per member.
    - ``decay_all``, ``no_decay``: :func:`decaylab.optim.param_groups`' options for which
      parameters λ decays (default: matrices and kernels, not biases, 1-D or norm parameters).
    - ``augment(x, generator)`` transforms a training batch. ``members_per_unit``: how many
      grid points one stacked model holds at most. ``references``: values of the metric the
      report prints beside the best cell, e.g. ``(("unigram entropy", 4.68),)``. ``version``:
      change it to start fresh runs when something the run keys cannot see changed.
    """

    name: str
    train: Pair
    test: Pair
    make_model: Callable[[], nn.Module]
    loss: Loss | None = None
    metric: str | Metric | Loss | None = None
    epochs: int = 30
    batch_size: int = 100
    validation: Pair | None = None
    schedule: str | Schedule = "cosine"
    warmup: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    clip: float | None = None
    decay_all: bool = False
    no_decay: tuple[str, ...] = ()
    augment: Augment | None = None
    members_per_unit: int = 64
    references: tuple[tuple[str, float], ...] = ()
    version: str = ""
    identity: str = field(default="", compare=False)
    """What run keys record for this task (set by decaylab when the task is loaded)."""

    def __post_init__(self) -> None:
        for split in ("train", "validation", "test"):
            pair = getattr(self, split)
            if pair is not None:
                _check_pair(self.name, split, pair)
        for number in ("epochs", "batch_size", "members_per_unit"):
            value = getattr(self, number)
            if isinstance(value, bool) or not (isinstance(value, int) and value >= 1):
                raise UsageError(f"task {self.name}: {number} must be a whole number >= 1, got {value!r}")
        if not (len(self.betas) == 2 and all(0.0 <= beta < 1.0 for beta in self.betas)):
            raise UsageError(f"task {self.name}: betas must be two numbers in [0, 1), got {self.betas!r}")
        for number in ("eps", "momentum"):
            if not getattr(self, number) >= 0:
                raise UsageError(f"task {self.name}: {number} must be >= 0, got {getattr(self, number)!r}")
        if isinstance(self.schedule, str) and self.schedule not in SCHEDULES:
            raise UsageError(
                f"task {self.name}: unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}"
            )
        if not 0.0 <= self.warmup < 1.0:
            raise UsageError(f"task {self.name}: warmup must be a fraction in [0, 1), got {self.warmup}")
        if self.clip is not None and not self.clip > 0:
            raise UsageError(f"task {self.name}: clip must be > 0 (or None), got {self.clip}")
        if isinstance(self.make_model, nn.Module):
            raise UsageError(
                f"task {self.name}: make_model must be a function that returns a new model, not a model; "
                "write make_model=lambda: ..."
            )
        if not callable(self.make_model):
            raise UsageError(f"task {self.name}: make_model must be a function returning an nn.Module")
        resolve_metric(self._metric_asked, self.objective)  # a bad metric fails here, when the task is made

    @property
    def objective(self) -> Loss:
        """The loss trained on: the task's own, or cross-entropy."""
        return self.loss or cross_entropy

    @property
    def _metric_asked(self) -> str | Metric | Loss:
        """The given metric, or accuracy (for the default cross-entropy) or the task's own loss."""
        if self.metric is not None:
            return self.metric
        return "accuracy" if self.loss is None else "loss"

    @property
    def selection_metric(self) -> Metric:
        """The metric cells are chosen by."""
        return resolve_metric(self._metric_asked, self.objective)

    @property
    def held_out(self) -> tuple[str, Pair]:
        """The split the best cell is chosen on: ``validation``, or ``test`` when the task has none."""
        return ("validation", self.validation) if self.validation is not None else ("test", self.test)


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


# ----------------------------------------------------------------------------- built-in tasks


def _mnist1d(name: str, model: Callable[[bool], nn.Module], batchnorm: bool, data_dir: Path | None) -> Task:
    data = datasets.mnist1d(data_dir)
    return Task(name, data.train, data.test, lambda: model(batchnorm), validation=data.validation, epochs=30)


def _cifar10(name: str, batchnorm: bool, data_dir: Path | None) -> Task:
    data = datasets.cifar10(data_dir)
    return Task(
        name, data.train, data.test, lambda: models.ResNet20(batchnorm), validation=data.validation,
        epochs=50, batch_size=128, augment=datasets.random_crop_flip, members_per_unit=12,
    )  # fmt: skip


def _ridge(data_dir: Path | None) -> Task:
    data = datasets.ridge()
    return Task(
        "ridge", data.train, data.test, lambda: nn.Linear(data.train[0].shape[1], 1, bias=False),
        validation=data.validation, loss=nn.functional.mse_loss, metric="loss", epochs=50, batch_size=20,
    )  # fmt: skip


CHARLM_CONTEXT = 64


def _charlm(data_dir: Path | None) -> Task:
    text = datasets.python_help_text()
    data = datasets.character_sequences(text, CHARLM_CONTEXT)
    counts = torch.bincount(data.train[1].flatten(), minlength=len(datasets.CHARACTERS)).double()
    probabilities = counts[counts > 0] / counts.sum()
    unigram_entropy = float(-(probabilities * probabilities.log2()).sum())
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Task(
        "charlm", data.train, data.test,
        lambda: models.CharTransformer(len(datasets.CHARACTERS), CHARLM_CONTEXT),
        validation=data.validation, metric=Metric("bits per character", bits_per_character, higher_is_better=False),
        epochs=6, batch_size=32, warmup=0.05, betas=(0.9, 0.98), clip=1.0, members_per_unit=2,
        references=(("unigram entropy of the training text", unigram_entropy),), version=f"text {digest}",
    )  # fmt: skip


@dataclass(frozen=True)
class BuiltIn:
    description: str
    make: Callable[[Path | None], Task]
    version: int = 2
    """Part of run keys: bump when the task's data or model change."""


BUILT_IN: dict[str, BuiltIn] = {
    "mnist1d-mlp": BuiltIn("MNIST-1D, MLP 40-100-100-10, no normalization",
                           lambda d: _mnist1d("mnist1d-mlp", models.mnist1d_mlp, False, d)),
    "mnist1d-mlp-bn": BuiltIn("MNIST-1D, the same MLP with BatchNorm",
                              lambda d: _mnist1d("mnist1d-mlp-bn", models.mnist1d_mlp, True, d)),
    "mnist1d-cnn": BuiltIn("MNIST-1D, its 1-D CNN, no normalization",
                           lambda d: _mnist1d("mnist1d-cnn", models.mnist1d_cnn, False, d)),
    "mnist1d-cnn-bn": BuiltIn("MNIST-1D, its 1-D CNN with BatchNorm",
                              lambda d: _mnist1d("mnist1d-cnn-bn", models.mnist1d_cnn, True, d)),
    "cifar10-resnet20": BuiltIn("CIFAR-10, ResNet-20 with BatchNorm (download or --data-dir)",
                                lambda d: _cifar10("cifar10-resnet20", True, d)),
    "cifar10-resnet20-nobn": BuiltIn("CIFAR-10, ResNet-20 with BatchNorm removed (Zhuang et al.)",
                                     lambda d: _cifar10("cifar10-resnet20-nobn", False, d)),
    "ridge": BuiltIn("least squares, n = 200, d = 1000 power-law features, linear model (Schaipp 2024); metric: MSE",
                     _ridge),
    "charlm": BuiltIn("2-block character transformer on Python's help texts; metric: bits per character",
                      _charlm),
}  # fmt: skip
DEFAULT_TASK = "mnist1d-cnn-bn"
"""The default study's task: with BatchNorm the good learning rates span a wide band, so the post's
Fig. 1 shows clearly (on the MLP without BN only two columns train well)."""


# ----------------------------------------------------------------------------- loading and identity


@functools.cache
def load_task(spec: str, data_dir: Path | None = None) -> Task:
    """The task named ``spec``, or ``path/to/file.py:function`` for a user's own (cached per process)."""
    if spec in BUILT_IN:
        built_in = BUILT_IN[spec]
        task = built_in.make(data_dir)
        return replace(task, identity=f"{spec}@{built_in.version}" + (f" {task.version}" if task.version else ""))
    if ":" not in spec or not spec.split(":", 1)[0].endswith(".py"):
        raise UsageError(f"unknown task {spec!r}; choose from {', '.join(BUILT_IN)} or give path/to/file.py:make_task")
    return _load_from_file(*spec.rsplit(":", 1))


def absolute_spec(spec: str) -> str:
    """``spec`` with a custom task's file made absolute, for workers started elsewhere."""
    if spec in BUILT_IN or ":" not in spec:
        return spec
    file, function = spec.rsplit(":", 1)
    return f"{Path(file).resolve()}:{function}"


def short_name(spec: str) -> str:
    """A task's name for directories and titles: its own, or ``FILE-FUNCTION`` for ``path/FILE.py:FUNCTION``."""
    if ":" not in spec:
        return spec
    file, function = spec.rsplit(":", 1)
    return f"{Path(file).stem}-{function}"


def _load_from_file(file: str, function: str) -> Task:
    """Import ``file`` as a script would be (its directory first on ``sys.path``) and call ``function``."""
    path = Path(file).resolve()
    if not path.is_file():
        raise UsageError(f"task file {file} not found")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(f"decaylab_task_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # as an import would: dataclasses look their module up there
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_spec.name]
        raise UsageError(f"task file {file} failed to import: {one_line(error)}") from error
    make_task = getattr(module, function, None)
    if not callable(make_task):
        raise UsageError(f"task file {file} has no function {function!r}")
    try:
        task = make_task()
    except UsageError:
        raise
    except Exception as error:
        raise UsageError(f"{file}:{function}() raised {one_line(error)}") from error
    if not isinstance(task, Task):
        raise UsageError(f"{file}:{function} must return decaylab.Task, got {type(task).__name__}")
    return replace(task, identity=f"{task.name}@file:{path}")


def one_line(error: BaseException) -> str:
    """``Type: first line of the message``, for a one-line error report."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def code_identity(task: Task, spec: str | None) -> str:
    """The run keys' record of a custom task: a hash of its code and data.

    Covered: the task file and every module imported from its directory; the code its
    functions reach wherever it lives (:func:`~decaylab.lab.fingerprint.code_fingerprint`: a
    model class in another folder, a closure's values, code typed into a notebook); its data
    tensors, its settings and its ``version``. Editing any of them starts fresh runs. Call
    after the model was built once, so that modules imported lazily are seen too.
    """
    digest = hashlib.sha256()
    if spec is not None and ":" in spec:
        task_file = Path(spec.rsplit(":", 1)[0]).resolve()
        for path in [task_file, *sorted(_local_module_files(task_file.parent) - {task_file})]:
            digest.update(str(path.relative_to(task_file.parent)).encode() + path.read_bytes())
    metric: object = task.metric
    if isinstance(task.metric, Metric):  # its name and direction too: the store keeps them with each run
        metric = (task.metric.function, task.metric.name, task.metric.higher_is_better)
    digest.update(code_fingerprint(task.make_model, task.loss, metric, task.schedule, task.augment).encode())
    for split in (task.train, task.validation, task.test):
        for tensor in split or ():
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    settings = {f.name: getattr(task, f.name) for f in fields(task) if f.name not in _CODE_AND_DATA}
    digest.update(repr(sorted(settings.items())).encode())
    return f"{task.name}@{digest.hexdigest()[:16]}"


_CODE_AND_DATA = {"train", "validation", "test", "make_model", "loss", "metric", "schedule", "augment", "identity"}


def _local_module_files(directory: Path) -> set[Path]:
    """Files of imported modules that live under ``directory`` (not installed packages, not decaylab)."""
    files = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not Path(file).is_absolute():  # torch registers pseudo-modules with relative file names
            continue
        path = Path(file).resolve()
        if path.suffix == ".py" and path.is_relative_to(directory) and is_user_file(path):
            files.add(path)
    return files
