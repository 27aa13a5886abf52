"""A task file as most users write one: the model is a class at module level (not a closure), so a worker
process that receives a variant of the task must get the class with it."""

import torch
from torch import nn

from decaylab import Task


class Classifier(nn.Module):
    """A small MLP; BatchNorm after its first layer."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def make_task() -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1200, 12, generator=generator)
    y = (x @ torch.randn(12, 4, generator=generator) + 0.5 * torch.randn(1200, 4, generator=generator)).argmax(1)
    return Task("classes", (x[:400], y[:400]), (x[800:], y[800:]), Classifier, validation=(x[400:800], y[400:800]),
                epochs=3, batch_size=50)  # fmt: skip
