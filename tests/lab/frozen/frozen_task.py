"""A task file whose results were stored by decaylab 0.2.0 (``results.sqlite`` beside it): its run keys
must never change, or every stored study of a user's would train again.

It reaches decaylab's own code the ways a user's file does (a built-in model, a loss, a metric, a
``Metric``), so a move of decaylab's modules that changed what the keys record would show here.
"""

import torch

from decaylab import Metric, Task
from decaylab.lab.models import mnist1d_mlp
from decaylab.lab.objectives import accuracy, cross_entropy


def make_task() -> Task:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(600, 40, generator=generator)
    y = (x @ torch.randn(40, 10, generator=generator)).argmax(1)
    return Task(
        "frozen",
        (x[:300], y[:300]),
        (x[450:], y[450:]),
        lambda: mnist1d_mlp(True),
        loss=cross_entropy,
        metric=Metric("accuracy", accuracy),
        validation=(x[300:450], y[300:450]),
        epochs=2,
        batch_size=50,
    )
