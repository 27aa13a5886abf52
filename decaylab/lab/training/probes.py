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

from decaylab.lab.training.stacking import StackedModel, batchnorm_fed_weights
from decaylab.optim import make_optimizer
from decaylab.optim.reference import lr_ratio

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


class WeightNorm:
    """After the step, per member, the largest norm among the weights the optimizer decays (the groups with a
    ``weight_decay``): what the equilibrium-norm claims compare with their bounds. The optimizer's units and
    each member's ``λ`` are the run's; the claims turn a norm into a bound's fraction."""

    name: str

    def __init__(self, model: StackedModel, optimizer: torch.optim.Optimizer, group_options: dict[str, object]):
        self.members = model.members
        decayed = [group for group in optimizer.param_groups if torch.as_tensor(group["weight_decay"]).any()]
        self.weights = [(group, p) for group in decayed for p in group["params"] if self.measured(group, p)]

    def measured(self, group: dict[str, object], weight: Tensor) -> bool:
        """Whether ``weight`` (of a decayed ``group``) is one this norm is taken of: all, by default."""
        return True

    def norm(self, group: dict[str, object], weight: Tensor) -> Tensor:
        """The norm of each member's ``weight``, ``(M,)``: each kind of probe says which."""
        raise NotImplementedError

    def before_step(self) -> None:
        pass

    @torch.no_grad()
    def after_step(self) -> Tensor:
        """The largest norm per member, ``(M,)`` (0 where nothing is decayed)."""
        norms = [self.norm(group, weight.detach()) for group, weight in self.weights]
        return torch.stack(norms).amax(0).double().cpu() if norms else torch.zeros(self.members, dtype=torch.float64)


class LargestWeight(WeightNorm):
    """``‖w‖_∞`` over every decayed weight: Lion's sign step keeps it within ``1/λ_torch``."""

    name = "largest-weight"

    def norm(self, group: dict[str, object], weight: Tensor) -> Tensor:
        return weight.abs().flatten(1).amax(1)


class SpectralNormPerScale(WeightNorm):
    """``‖W‖_op / r`` over Muon's matrices (``r``: its per-matrix scale, :func:`~decaylab.optim.reference.lr_ratio`):
    Muon's step of spectral norm ``r·s`` keeps it within ``s/λ_torch``."""

    name = "spectral-norm-per-scale"

    def measured(self, group: dict[str, object], weight: Tensor) -> bool:
        return group.get("direction") == "muon"

    def norm(self, group: dict[str, object], weight: Tensor) -> Tensor:
        scale = lr_ratio(weight.shape, group["adjust_lr_fn"])  # type: ignore[arg-type]
        return torch.linalg.matrix_norm(weight.float(), ord=2) / scale


class TopSingularValue(WeightNorm):
    """The largest singular value among the decayed matrices whose scale a BatchNorm removes (their norm is the
    optimizer's alone to set: Fan et al.'s scale-invariant layers)."""

    name = "bn-fed-top-singular-value"

    def __init__(self, model: StackedModel, optimizer: torch.optim.Optimizer, group_options: dict[str, object]):
        self.scale_free = {id(model.parameters[name]) for name in batchnorm_fed_weights(model.module)}
        super().__init__(model, optimizer, group_options)

    def measured(self, group: dict[str, object], weight: Tensor) -> bool:
        return id(weight) in self.scale_free and weight.ndim == 3  # a stack of matrices: one per member

    def norm(self, group: dict[str, object], weight: Tensor) -> Tensor:
        return torch.linalg.matrix_norm(weight.float(), ord=2)


PROBES: dict[str, Callable[[StackedModel, torch.optim.Optimizer, dict[str, object]], Probe]] = {
    PROXADAM_STEP: ProxAdamStep,
    **{probe.name: probe for probe in (LargestWeight, SpectralNormPerScale, TopSingularValue)},
}
"""Every probe, by the name a run asks for it in ``RunConfig.probes``."""
