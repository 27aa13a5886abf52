"""The tiny task, except that the first model built in a Ray worker kills that worker (SIGKILL).

``DECAYLAB_CHAOS_MARKER`` names a file: the first worker to build a model creates it and
kills itself; later attempts (Ray's retry) find it and train normally. The driver, whose
process id is ``DECAYLAB_CHAOS_DRIVER``, builds models to check the task and is spared.
"""

import os
import signal
from dataclasses import replace
from pathlib import Path

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
