"""A task is data + model + training length: what a study trains, by name or from a file.

Built in: MNIST-1D (generated offline) with an MLP or 1-D CNN, with and without BatchNorm,
and CIFAR-10 with ResNet-20. A user's own task is ``path/to/file.py:make_task``, where
``make_task()`` returns a :class:`Task`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from decaylab.lab import datasets
from decaylab.lab.errors import UsageError
from decaylab.lab.models import MLP, CNN1d, ModelFactory, ResNet20

Augment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass(frozen=True)
class Task:
    """What a study trains.

    ``make_model(M)`` returns a stacked model of ``M`` members whose output is
    ``(M, batch, classes)`` (see :mod:`decaylab.lab.models` for the building blocks);
    ``augment(x, generator)`` transforms a training batch, if given.
    """

    name: str
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    make_model: ModelFactory
    epochs: int = 30
    batch_size: int = 100
    augment: Augment | None = None
    identity: str = field(default="", compare=False)
    """What run keys record for this task; a custom task's includes a hash of its file."""


def _mnist1d(name: str, model: Callable[[int, str], torch.nn.Module], norm: str, epochs: int) -> Task:
    train_x, train_y, test_x, test_y = datasets.mnist1d()
    return Task(name, train_x, train_y, test_x, test_y, lambda members: model(members, norm), epochs=epochs)


def _cifar10(name: str, norm: str, data_dir: Path | None) -> Task:
    train_x, train_y, test_x, test_y = datasets.cifar10(data_dir)
    return Task(
        name, train_x, train_y, test_x, test_y, lambda members: ResNet20(members, norm),
        epochs=50, batch_size=128, augment=datasets.random_crop_flip,
    )  # fmt: skip


BUILT_IN: dict[str, tuple[str, Callable[[Path | None], Task]]] = {
    "mnist1d-mlp": (
        "MNIST-1D, MLP 40-100-100-10, no normalization",
        lambda _: _mnist1d("mnist1d-mlp", MLP, "none", 30),
    ),
    "mnist1d-mlp-bn": (
        "MNIST-1D, the same MLP with BatchNorm",
        lambda _: _mnist1d("mnist1d-mlp-bn", MLP, "batch", 30),
    ),
    "mnist1d-cnn": ("MNIST-1D, its 1-D CNN, no normalization", lambda _: _mnist1d("mnist1d-cnn", CNN1d, "none", 30)),
    "mnist1d-cnn-bn": (
        "MNIST-1D, its 1-D CNN with BatchNorm",
        lambda _: _mnist1d("mnist1d-cnn-bn", CNN1d, "batch", 30),
    ),
    "cifar10-resnet20": ("CIFAR-10, ResNet-20 with BatchNorm", lambda d: _cifar10("cifar10-resnet20", "batch", d)),
    "cifar10-resnet20-nobn": (
        "CIFAR-10, ResNet-20 with BatchNorm removed (Zhuang et al.)",
        lambda d: _cifar10("cifar10-resnet20-nobn", "none", d),
    ),
}
DEFAULT_TASK = "mnist1d-mlp"


@functools.cache
def load_task(spec: str, data_dir: Path | None = None) -> Task:
    """The task named ``spec``, or ``path/to/file.py:function`` for a user's own (cached per process)."""
    if spec in BUILT_IN:
        task = BUILT_IN[spec][1](data_dir)
        return Task(**{**task.__dict__, "identity": spec})
    if ":" not in spec or not spec.split(":", 1)[0].endswith(".py"):
        raise UsageError(f"unknown task {spec!r}; choose from {', '.join(BUILT_IN)} or give path/to/file.py:make_task")
    return _load_custom(*spec.rsplit(":", 1))


def absolute_spec(spec: str) -> str:
    """``spec`` with a custom task's file made absolute, for workers started elsewhere."""
    if spec in BUILT_IN or ":" not in spec:
        return spec
    file, function = spec.rsplit(":", 1)
    return f"{Path(file).resolve()}:{function}"


def _load_custom(file: str, function: str) -> Task:
    """Import ``file`` as a script would be: its directory first on ``sys.path``."""
    path = Path(file).resolve()
    if not path.is_file():
        raise UsageError(f"task file {file} not found")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(f"decaylab_task_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        raise UsageError(f"task file {file} failed to import: {error!r}") from error
    make_task = getattr(module, function, None)
    if not callable(make_task):
        raise UsageError(f"task file {file} has no function {function!r}")
    task = make_task()
    if not isinstance(task, Task):
        raise UsageError(f"{file}:{function} must return decaylab.lab.tasks.Task, got {type(task).__name__}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return Task(**{**task.__dict__, "identity": f"{task.name}@{digest}"})
