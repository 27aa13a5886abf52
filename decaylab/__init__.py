"""decaylab: weight decay in Adam-type optimizers, as optimizers and as studies.

``decaylab.optim`` holds the optimizers; a study runs from Python with :func:`study` on a
:class:`Task` (data, an ordinary model, its objective), or with the ``decaylab`` command; :func:`transfer`
measures which λ to use at another scale; :func:`load_member` gives back a trained member a study kept,
and :func:`reproduce` trains a stored run again in a plain PyTorch loop.
The study engine is imported on first use, so ``import decaylab.optim`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decaylab.analysis.members import load_member, reproduce
    from decaylab.api import study, transfer
    from decaylab.lab.objectives import Metric
    from decaylab.lab.practice import Practice
    from decaylab.lab.task.contract import Task

__version__ = "0.3.0"
__all__ = ["Metric", "Practice", "Task", "load_member", "reproduce", "study", "transfer"]
_HOMES = {
    "Metric": "decaylab.lab.task.objectives",
    "Practice": "decaylab.lab.practice",
    "Task": "decaylab.lab.task.contract",
    "load_member": "decaylab.analysis.members",
    "reproduce": "decaylab.analysis.members",
    "study": "decaylab.api",
    "transfer": "decaylab.api",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'decaylab' has no attribute {name!r}")
