"""Three tasks of your own, as the README shows them: ``decaylab study --task examples/tasks.py:classifier``.

Each function returns a :class:`decaylab.Task` built from ordinary PyTorch: data as tensors,
a function that builds ONE model, and for anything but classification its loss and metric.
"""

import torch
from torch import nn

from decaylab import Metric, Task
from decaylab.lab.models import CharTransformer
from decaylab.lab.objectives import bits_per_character


def classifier() -> Task:
    """Classification: the default loss is cross-entropy and the default metric accuracy."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 12, generator=generator)
    y = (x @ torch.randn(12, 4, generator=generator)).argmax(1)
    return Task(
        "classifier", train=(x[:2000], y[:2000]), test=(x[2500:], y[2500:]), validation=(x[2000:2500], y[2000:2500]),
        make_model=lambda: nn.Sequential(nn.Linear(12, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1),
                                         nn.Linear(64, 4)),
        epochs=20, batch_size=50,
    )  # fmt: skip


def regression() -> Task:
    """Regression: the task owns its loss, and its metric is that loss (lower is better)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 50, generator=generator)
    y = x @ torch.randn(50, 1, generator=generator) + 0.1 * torch.randn(1200, 1, generator=generator)
    return Task(
        "regression", (x[:200], y[:200]), (x[700:], y[700:]), validation=(x[200:700], y[200:700]),
        make_model=lambda: nn.Linear(50, 1, bias=False), loss=nn.functional.mse_loss,
    )  # fmt: skip


def language_model() -> Task:
    """Next-token prediction: inputs stay token ids, targets are (B, T), a Metric names its own scale."""
    tokens = torch.randint(0, 97, (4000, 65), generator=torch.Generator().manual_seed(0))  # your corpus, as windows
    x, y = tokens[:, :-1], tokens[:, 1:]
    return Task(
        "lm", (x[:3200], y[:3200]), (x[3600:], y[3600:]), validation=(x[3200:3600], y[3200:3600]),
        make_model=lambda: CharTransformer(97, context=64),
        metric=Metric("bits per character", bits_per_character, higher_is_better=False),
        schedule="wsd", warmup=0.05, clip=1.0, betas=(0.9, 0.98), epochs=2, batch_size=32,
    )  # fmt: skip
