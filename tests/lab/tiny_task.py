"""A task small enough for tests, in the form a user writes: ``--task tests/lab/tiny_task.py:make_task``."""

import torch

from decaylab.lab.models import MLP
from decaylab.lab.tasks import Task


def make_task(norm: str = "batch") -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 12, generator=generator)
    teacher = torch.randn(12, 4, generator=generator)
    y = (x @ teacher + 0.5 * torch.randn(1200, 4, generator=generator)).argmax(1)
    return Task(
        f"tiny-{norm}", x[:400], y[:400], x[400:], y[400:],
        lambda members: MLP(members, norm, inputs=12, hidden=16, classes=4),
        epochs=3, batch_size=50,
    )  # fmt: skip


def make_task_without_bn() -> Task:
    return make_task("none")
