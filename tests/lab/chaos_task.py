"""The tiny task, except that the first model built in a Ray worker kills that worker (SIGKILL).

``DECAYLAB_CHAOS_MARKER`` names a file: the first worker to build a model creates it and
kills itself; later attempts (Ray's retry) find it and train normally. The driver, whose
process id is ``DECAYLAB_CHAOS_DRIVER``, builds models to check the task and is spared.
"""

import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import torch
from tiny_task import make_task as make_tiny_task

from decaylab import Task


def make_task() -> Task:
    tiny = make_tiny_task()

    def make_model():  # runs in the worker, mid-unit
        marker = Path(os.environ["DECAYLAB_CHAOS_MARKER"])
        if os.environ.get("DECAYLAB_CHAOS_DRIVER") != str(os.getpid()) and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return tiny.make_model()

    return replace(tiny, name="chaos", make_model=make_model)


def make_epochs_task() -> Task:
    """The tiny task for 10 epochs, whose model kills its Ray worker at the 60th training step (epoch 8).

    Every training forward outside the test's own process appends a word to the file
    ``DECAYLAB_CHAOS_STEPS``, so a test can count how much training a study took.
    """
    tiny = make_tiny_task()
    steps = []

    class Counted(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny.make_model()

        def forward(self, x):
            if self.training and os.environ.get("DECAYLAB_CHAOS_DRIVER") != str(os.getpid()):
                with open(os.environ["DECAYLAB_CHAOS_STEPS"], "a") as log:
                    log.write("step ")
                steps.append(1)
                marker = Path(os.environ["DECAYLAB_CHAOS_MARKER"])
                if len(steps) >= 60 and not marker.exists() and "ray" in sys.modules:
                    marker.touch()
                    os.kill(os.getpid(), signal.SIGKILL)
            return self.inner(x)

    return replace(tiny, name="chaos-epochs", make_model=Counted, epochs=10)
