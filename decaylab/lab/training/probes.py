"""Measurements a run can take along the way, asked for by name in ``RunConfig.probes``.

They exist for the claims: a probe looks at the run's exact state and records one number per
member and epoch, stored with the run (``ResultStore.measurements``), so a claim reads it
like any other result instead of training on its own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Protocol

import torch
from torch import Tensor

from decaylab.lab.training.stacking import StackedModel
from decaylab.optim import make_optimizer

PROXADAM_STEP = "proxadam-step"


class Probe(Protocol):
    """Built with the unit's model, optimizer and param-group options; it sees each epoch's first step."""

    name: str
    """What its values are stored as (``ResultStore.measurements``)."""

    def before_step(self) -> None: ...

    def after_step(self) -> Tensor:
        """One value per member, ``(M,)``."""
        ...


class ProxAdamStep:
    """How far a ProxAdam step from the run's exact state lands from the run's own step, relative to that step.

    ``‖w_ProxAdam − w_run‖ / ‖w_run − w‖`` per member: both steps start from the same weights,
    moments (a copy of the optimizer's state) and gradient, so the gap is the rules' difference
    alone, ``x/(1+x)·(x·w + lr·u)`` with ``x = η·λ`` against paper AdamW. Taken on the first
    step of every epoch.
    """

    name = "proxadam-step-gap"

    def __init__(self, model: StackedModel, optimizer: torch.optim.Optimizer, group_options: dict[str, object]):
        self.model, self.optimizer, self.group_options = model, optimizer, group_options

    @torch.no_grad()
    def before_step(self) -> None:
        twin = StackedModel(self.model.module, self.model.members)
        twin.load_state_dict(self.model.state_dict())
        for name, param in self.model.parameters.items():
            twin.parameters[name].grad = None if param.grad is None else param.grad.clone()
        decay = torch.zeros(self.model.members, dtype=torch.float64)
        prox = make_optimizer("proxadam", twin.param_groups(decay, **self.group_options), lr=decay + 1.0)
        prox.load_state_dict(copy.deepcopy(self.optimizer.state_dict()))  # the run's moments, lr and λ
        prox.step()
        self.start, self.twin = _flat(self.model), _flat(twin)

    def after_step(self) -> Tensor:
        """The gap per member, ``(M,)``."""
        end = _flat(self.model)
        return ((self.twin - end).norm(dim=1) / (end - self.start).norm(dim=1)).double()


def _flat(model: StackedModel) -> Tensor:
    return torch.cat([p.detach().flatten(1) for p in model.parameters.values()], 1)


PROBES: dict[str, Callable[[StackedModel, torch.optim.Optimizer, dict[str, object]], Probe]] = {
    PROXADAM_STEP: ProxAdamStep
}
"""Every probe, by the name a run asks for it in ``RunConfig.probes``."""
