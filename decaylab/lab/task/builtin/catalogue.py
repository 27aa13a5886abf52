"""The built-in tasks by name: each a few lines over its data set (:mod:`.datasets`) and model (:mod:`.models`).

MNIST-1D with an MLP or 1-D CNN, with and without BatchNorm; CIFAR-10 with ResNet-20; ``ridge``
regression; ``charlm``, a small character-level transformer. Adding one is an entry in
:data:`BUILT_IN` and its maker here (plus its data or model, if new).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from decaylab.lab.task.builtin import datasets, models
from decaylab.lab.task.contract import Task
from decaylab.lab.task.objectives import Metric, bits_per_character


def _mnist1d(name: str, model: Callable[..., nn.Module], batchnorm: bool, data_dir: Path | None) -> Task:
    data = datasets.mnist1d(data_dir)
    return Task(name, data.train, data.test, partial(model, batchnorm), validation=data.validation, epochs=30)


def _cifar10(name: str, batchnorm: bool, data_dir: Path | None) -> Task:
    data = datasets.cifar10(data_dir)
    return Task(
        name,
        data.train,
        data.test,
        partial(models.ResNet20, batchnorm),
        validation=data.validation,
        epochs=50,
        batch_size=128,
        augment=datasets.random_crop_flip,
        members_per_unit=12,
    )


def _ridge(data_dir: Path | None) -> Task:
    data = datasets.ridge()
    return Task(
        "ridge",
        data.train,
        data.test,
        lambda: nn.Linear(data.train[0].shape[1], 1, bias=False),
        validation=data.validation,
        loss=nn.functional.mse_loss,
        metric="loss",
        epochs=50,
        batch_size=20,
    )


CHARLM_CONTEXT = 64


def _charlm(data_dir: Path | None) -> Task:
    text = datasets.python_help_text()
    data = datasets.character_sequences(text, CHARLM_CONTEXT)
    counts = torch.bincount(data.train[1].flatten(), minlength=len(datasets.CHARACTERS)).double()
    probabilities = counts[counts > 0] / counts.sum()
    unigram_entropy = float(-(probabilities * probabilities.log2()).sum())
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Task(
        "charlm",
        data.train,
        data.test,
        partial(models.CharTransformer, len(datasets.CHARACTERS), CHARLM_CONTEXT),
        validation=data.validation,
        metric=Metric("bits per character", bits_per_character, higher_is_better=False, mean_over_examples=True),
        epochs=6,
        batch_size=32,
        warmup=0.05,
        betas=(0.9, 0.98),
        clip=1.0,
        members_per_unit=2,
        references=(("unigram entropy of the training text", unigram_entropy),),
        version=f"text {digest}",
    )


@dataclass(frozen=True)
class BuiltIn:
    """A built-in task: what it is, how to make it (from a data directory), and where more training
    examples come from when a training set larger than its own is asked for (``decaylab transfer``)."""

    description: str
    make: Callable[[Path | None], Task]
    version: int = 2
    """Part of run keys: bump when the task's data or model change."""
    more_examples: datasets.Examples | None = None


BUILT_IN: dict[str, BuiltIn] = {
    "mnist1d-mlp": BuiltIn(
        "MNIST-1D, MLP 40-100-100-10, no normalization",
        partial(_mnist1d, "mnist1d-mlp", models.mnist1d_mlp, False),
        more_examples=datasets.MNIST1D_MORE,
    ),
    "mnist1d-mlp-bn": BuiltIn(
        "MNIST-1D, the same MLP with BatchNorm",
        partial(_mnist1d, "mnist1d-mlp-bn", models.mnist1d_mlp, True),
        more_examples=datasets.MNIST1D_MORE,
    ),
    "mnist1d-cnn": BuiltIn(
        "MNIST-1D, its 1-D CNN, no normalization",
        partial(_mnist1d, "mnist1d-cnn", models.mnist1d_cnn, False),
        more_examples=datasets.MNIST1D_MORE,
    ),
    "mnist1d-cnn-bn": BuiltIn(
        "MNIST-1D, its 1-D CNN with BatchNorm",
        partial(_mnist1d, "mnist1d-cnn-bn", models.mnist1d_cnn, True),
        more_examples=datasets.MNIST1D_MORE,
    ),
    "cifar10-resnet20": BuiltIn(
        "CIFAR-10, ResNet-20 with BatchNorm (download or --data-dir)", partial(_cifar10, "cifar10-resnet20", True)
    ),
    "cifar10-resnet20-nobn": BuiltIn(
        "CIFAR-10, ResNet-20 with BatchNorm removed (Zhuang et al.)", partial(_cifar10, "cifar10-resnet20-nobn", False)
    ),
    "ridge": BuiltIn(
        "least squares, n = 200, d = 1000 power-law features, linear model (Schaipp 2024); metric: MSE", _ridge
    ),
    "charlm": BuiltIn("2-block character transformer on Python's help texts; metric: bits per character", _charlm),
}
DEFAULT_TASK = "mnist1d-cnn-bn"
"""The default study's task: with BatchNorm the good learning rates span a wide band, so the post's
Fig. 1 shows clearly (on the MLP without BN only two columns train well)."""
BATCHNORM_TWINS = {
    "mnist1d-cnn": "mnist1d-cnn-bn",
    "mnist1d-mlp": "mnist1d-mlp-bn",
    "cifar10-resnet20-nobn": "cifar10-resnet20",
}
"""Each built-in model without BatchNorm, and the same model with it."""
