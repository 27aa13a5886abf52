"""A task whose epochs take about a second on one CPU thread: for kill -9 and resume tests."""

import torch
from torch import nn

from decaylab import Task


def make_task() -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(12_000, 64, generator=generator)
    y = (x @ torch.randn(64, 8, generator=generator)).argmax(1)
    return Task(
        "slow", (x[:10_000], y[:10_000]), (x[11_000:], y[11_000:]), validation=(x[10_000:11_000], y[10_000:11_000]),
        make_model=lambda: nn.Sequential(nn.Linear(64, 384), nn.ReLU(), nn.Dropout(0.1), nn.Linear(384, 384),
                                         nn.ReLU(), nn.Linear(384, 8)),
        epochs=12, batch_size=50,
    )  # fmt: skip
