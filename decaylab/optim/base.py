"""Drop-in ``torch.optim.Optimizer`` classes: an update direction (Adam's, SGD's, Lion's or Muon's) × a decay rule.

All share :class:`DecayOptimizer`: param groups, ``state_dict``, closures, ``maximize``,
complex parameters (as pairs of reals), pickling and state keys are those of ``torch.optim``
(``step``, ``exp_avg``, ``exp_avg_sq`` for Adam; ``momentum_buffer`` for SGD), so a
checkpoint moves between decaylab and torch.

``η_t = lr_t/α``, with ``α`` the learning rate the user meant as the peak: OneCycleLR's
``max_lr`` where it set one, else the ``lr`` the group was built with, or the largest ``lr``
a scheduler has reached if that is larger (CyclicLR with a ``max_lr`` above it). So every
``torch.optim.lr_scheduler`` gives ``η_t ≤ 1``, and the paper form's ``λ`` is the decay per
step at the schedule's peak.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import Tensor
from torch.optim import Optimizer

from decaylab.optim.decay_schedule import INITIAL_KEY
from decaylab.optim.dispatch import Implementation
from decaylab.optim.rules import PAPER, TORCH, UNITS, DecayRule, Scalar, cautiously

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
UNITS_KEY = "weight_decay_units"
"""The param-group key a checkpoint records the units of λ in (:data:`~decaylab.optim.rules.UNITS`)."""
UNSAID = "_units_unsaid"
UNSUPPORTED_FLAGS = ("amsgrad", "capturable", "differentiable")
"""torch.optim flags decaylab does not implement: a group (or a loaded checkpoint) setting one is refused."""


def negative(value: Scalar) -> bool:
    """True for a negative or NaN value (a per-member tensor: any of them)."""
    if isinstance(value, Tensor):
        return bool((~(value >= 0)).any())
    return not value >= 0


def one_value_or_members(name: str, value: Scalar) -> Scalar:
    """A hyperparameter as a float, a 0-dim tensor or a 1-D per-member tensor; other shapes are refused."""
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return value.reshape(())
        if value.ndim != 1:
            raise ValueError(f"{name} must be a number or a 1-D tensor of per-member values, got shape {value.shape}")
    return value


def check_betas(betas: tuple[float, float]) -> None:
    for name, beta in zip(("betas[0]", "betas[1]"), betas, strict=True):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")


def check_members(name: str, members: int, params: list[Tensor]) -> None:
    """Per-member values need every parameter of the group to lead with that many members."""
    for index, param in enumerate(params):
        if param.ndim == 0 or param.shape[0] != members:
            raise ValueError(
                f"{name} has {members} per-member values, but parameter {index} of its group has shape "
                f"{tuple(param.shape)}: every parameter must lead with a member dimension of {members}"
            )


class DecayOptimizer(Optimizer):
    """A direction and a :class:`~decaylab.optim.rules.DecayRule`: what every decaylab optimizer shares.

    ``implementation``: ``"auto"`` runs rules with scalar coefficients on torch's fused
    kernels (one pass over memory) and corrects after them for the others; ``"reference"``
    goes tensor by tensor through the formulas as written; ``"compiled"`` runs the reference
    through ``torch.compile`` (a one-off compile of tens of seconds, cached on disk by
    inductor). Under ``torch.compile`` of ``step`` itself, the reference path is traced.

    ``lr`` and ``weight_decay`` may be 1-D tensors of per-member values over a leading
    dimension of every parameter (``M`` stacked models). A per-member ``lr`` is kept as the
    group's ``member_lr``, and the group's ``lr`` becomes the schedule's multiplier (1 at the
    start), so torch's schedulers drive all members: ``lr_t = member_lr · lr``.
    """

    FAMILY = "another optimizer"
    """The kind of optimizer, as :func:`family_of` reads it from a checkpoint's param groups: a checkpoint of
    another kind is refused at load (its step would fail on a missing key, or take the other kind's settings)."""
    _PICKLED = ("rule", "implementation", "convention", "penalty")
    """Instance attributes a copy needs (torch's ``__getstate__`` keeps only defaults, state and groups)."""

    def __init__(self, params: Params, rule: DecayRule, defaults: dict[str, Any], implementation: Implementation):
        if implementation not in ("auto", "reference", "compiled"):
            raise ValueError(f"implementation must be 'auto', 'reference' or 'compiled', got {implementation!r}")
        self.rule = rule
        self.implementation: Implementation = implementation
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ groups and state

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group after checking it: a bad group leaves the optimizer as it was."""
        params = param_group["params"]  # as torch reads it (a set stays, for torch's error), but read once here
        if not isinstance(params, set):
            param_group["params"] = [params] if isinstance(params, Tensor) else list(params)
        candidate = {**self.defaults, **param_group}
        self._check(candidate)
        super().add_param_group(param_group)
        self._prepare(self.param_groups[-1])

    def _check(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` naming the first bad hyperparameter of ``group``."""
        for flag in UNSUPPORTED_FLAGS:
            if group.get(flag):
                raise ValueError(f"{flag}=True is not supported by {type(self).__name__}")
        for name in ("lr", "weight_decay"):
            value = one_value_or_members(name, group[name])
            if negative(value):
                raise ValueError(f"{name} must be >= 0, got {value}")
            if isinstance(value, Tensor) and value.ndim == 1:
                check_members(name, len(value), group["params"])

    def _prepare(self, group: dict[str, Any]) -> None:
        """Per-member ``lr`` to ``member_lr``; remember the peak ``α`` the schedule is measured from, and what
        ``λ`` means (a checkpoint carries it)."""
        group[UNITS_KEY] = self.rule.units
        lr = one_value_or_members("lr", group["lr"])
        group["weight_decay"] = one_value_or_members("weight_decay", group["weight_decay"])
        if isinstance(lr, Tensor) and lr.ndim == 1:
            group["member_lr"], lr = lr.clone(), 1.0
        group["lr"] = lr
        group.setdefault("peak_lr", max(float(lr), float(group.get("initial_lr", 0.0))))
        group.setdefault("maximize", False)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As torch's, also from torch's own optimizers and old checkpoints (a ``step`` saved as an int).

        A checkpoint made with a flag decaylab does not implement (``amsgrad``, ...) is refused. Its λ keeps
        its meaning: a checkpoint whose λ is in the other AdamW convention is converted exactly
        (``λ_paper = α·λ_torch``, with the group's peak α), one whose λ is another kind of thing (a penalty
        against a decay) is refused, and one that does not say (torch's own, or decaylab's before 0.3)
        loaded into a paper-form optimizer warns, since torch's λ is a decay per unit of learning rate.
        """
        groups = [self._in_own_units(group) for group in state_dict["param_groups"]]
        unsaid = [group for group in groups if group.pop(UNSAID, False)]
        if unsaid:
            warnings.warn(
                f"this checkpoint does not say what its weight_decay means; torch's (AdamW's, Muon's) is a decay of "
                f"lr·λ per step, and {type(self).__name__} reads λ as a decay per step at the peak (paper form). "
                "Convert it with convert_weight_decay(λ, lr, 'torch', 'paper'), or build the optimizer with "
                "convention='torch'",
                stacklevel=2,
            )
        state_dict = {**state_dict, "param_groups": groups}
        for group in groups:
            if family_of(group) != self.FAMILY:
                raise ValueError(
                    f"this checkpoint was saved by {family_of(group)}, not by a {type(self).__name__} "
                    f"({self.FAMILY}): load it into the optimizer it was saved from"
                )
        for group, own in zip(state_dict["param_groups"], self.param_groups, strict=False):  # torch checks counts
            self._check({**self.defaults, **group, "params": own["params"]})  # a state dict holds indices
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            self._prepare(group)
        for state in self.state.values():  # not all entries are a parameter's: a post-hook may write a flag
            if isinstance(state, dict) and "step" in state and not isinstance(state["step"], Tensor):
                state["step"] = torch.tensor(float(state["step"]), dtype=torch.float32)

    def _in_own_units(self, group: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's group with its λ in this optimizer's units (module ``load_state_dict``)."""
        theirs, ours = group.get(UNITS_KEY), self.rule.units
        decay_keys = [key for key in ("weight_decay", INITIAL_KEY) if key in group]  # λ, and λ of a decay schedule
        decays = any(bool((torch.as_tensor(group[key]) != 0).any()) for key in decay_keys)
        if theirs is None:
            return {**group, UNSAID: decays and ours == "paper"}
        if theirs == ours or not decays:
            return group
        if {theirs, ours} == {"paper", "torch"}:
            alpha = float(group["max_lr"]) if "max_lr" in group else group.get("peak_lr", group["lr"])
            alpha = alpha * group["member_lr"] if "member_lr" in group else alpha
            converted = {key: group[key] * alpha if theirs == "torch" else group[key] / alpha for key in decay_keys}
            return {**group, **converted, UNITS_KEY: ours}
        raise ValueError(
            f"this checkpoint's weight_decay is {UNITS[theirs]}; {type(self).__name__}'s is {UNITS[ours]}, "
            "and no exact conversion joins them: load it into the optimizer it was saved from"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), **{k: self.__dict__[k] for k in self._PICKLED if k in self.__dict__}}

    @staticmethod
    def learning_rate(group: dict[str, Any]) -> tuple[Scalar, float]:
        """``(lr_t, η_t)``: the group's current learning rate (per member, if it has ``member_lr``) and
        ``η_t = lr/α``: ``α`` is OneCycleLR's ``max_lr`` where set, else the built-with ``lr``, raised
        to any larger ``lr`` reached so far (so ``η_t ≤ 1`` under every scheduler). A new peak is
        recorded in the group's ``peak_lr``."""
        lr = group["lr"]
        peak = float(group["max_lr"]) if "max_lr" in group else group["peak_lr"]
        if float(lr) > peak:
            peak = group["peak_lr"] = float(lr)
        eta = float(lr) / peak if peak > 0 else 1.0
        member_lr = group.get("member_lr")
        return (member_lr * lr if member_lr is not None else lr), eta

    @torch.no_grad()
    def stop_members(self, members: Tensor) -> None:
        """Stop ``members`` for good (a boolean mask over the leading member dimension): their learning rate
        is 0 from now on and their moments are zeroed, so no value they hold can turn non-finite. The other
        members are untouched: members share no arithmetic. (A diverged run of a grid-batched unit.)"""
        for group in self.param_groups:
            if "member_lr" in group:
                group["member_lr"][members.to(group["member_lr"].device)] = 0.0
            for param in group["params"]:
                for value in self.state.get(param, {}).values():
                    if isinstance(value, Tensor) and value.ndim > 0:
                        value[members.to(value.device)] = 0.0

    # ------------------------------------------------------------------ the step

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One optimizer step over every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for param in params:
                if cast(Tensor, param.grad).is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            if params:
                lr, eta = self.learning_rate(group)
                self._step_group(group, params, lr, eta)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        raise NotImplementedError


def family_of(group: dict[str, Any]) -> str:
    """Which kind of optimizer a checkpoint's param group was saved by, as its keys tell (torch's Adam, SGD and
    Muon and timm's Lion read as their decaylab kinds)."""
    if "ns_steps" in group:
        return "a Muon optimizer"
    if "dampening" in group:
        return "an SGD optimizer"
    if "eps" in group and "betas" in group:
        return "an Adam-type optimizer"
    if "betas" in group:
        return "a Lion optimizer"
    return "another optimizer"


def decoupled(convention: str, cautious: bool) -> DecayRule:
    """The decoupled decay rule of ``convention`` (``paper``: ``1 − η_t·λ``, ``torch``: ``1 − lr_t·λ``), applied
    only where the step and the weight agree in sign if ``cautious`` (:func:`~decaylab.optim.rules.cautiously`)."""
    rules = {"paper": PAPER, "torch": TORCH}
    if convention not in rules:
        raise ValueError(f"convention must be 'paper' or 'torch', got {convention!r}")
    return cautiously(rules[convention]) if cautious else rules[convention]


def as_real(tensor: Tensor) -> Tensor:
    """A complex tensor as pairs of reals (as torch.optim treats them); a real tensor as it is."""
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor
