"""A task small enough for tests, in the form a user writes: ``--task tests/lab/tiny_task.py:make_task``."""

import torch
from torch import nn

from decaylab import Task


def make_task(batchnorm: bool = True) -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 12, generator=generator)
    teacher = torch.randn(12, 4, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(1200, 4, generator=generator)).argmax(1)

    def make_model() -> nn.Module:  # an ordinary module: no decaylab layer in it
        norm = [nn.BatchNorm1d(16)] if batchnorm else []
        return nn.Sequential(nn.Linear(12, 16), *norm, nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 16), nn.LayerNorm(16),
                             nn.ReLU(), nn.Linear(16, 4))  # fmt: skip

    return Task(
        f"tiny-{'bn' if batchnorm else 'plain'}", (x[:400], y[:400]), (x[800:], y[800:]), make_model,
        validation=(x[400:800], y[400:800]), epochs=3, batch_size=50,
    )  # fmt: skip


def make_task_without_bn() -> Task:
    return make_task(batchnorm=False)
