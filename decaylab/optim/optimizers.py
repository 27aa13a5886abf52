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
from typing import Any, Literal, cast

import torch
from torch import Tensor
from torch.optim import Optimizer

from decaylab.optim import dispatch
from decaylab.optim.dispatch import Implementation
from decaylab.optim.fused import momentum_buffer_as_torch_
from decaylab.optim.groups import is_matrix
from decaylab.optim.reference import MUON_DIRECTION, NEWTON_SCHULZ, NS_DTYPES
from decaylab.optim.rules import (
    CORRECTED,
    EUCLIDEAN_PROXIMAL_L2,
    L2_IN_GRADIENT,
    NO_DECAY,
    PAPER,
    PROXIMAL_L1,
    PROXIMAL_L2,
    TORCH,
    UNITS,
    DecayRule,
    Scalar,
    cautiously,
)

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
UNITS_KEY = "weight_decay_units"
"""The param-group key a checkpoint records the units of λ in (:data:`~decaylab.optim.rules.UNITS`)."""
UNSAID = "_units_unsaid"
_UNSUPPORTED_FLAGS = ("amsgrad", "capturable", "differentiable")
"""torch.optim flags decaylab does not implement: a group (or a loaded checkpoint) setting one is refused."""


def _negative(value: Scalar) -> bool:
    """True for a negative or NaN value (a per-member tensor: any of them)."""
    if isinstance(value, Tensor):
        return bool((~(value >= 0)).any())
    return not value >= 0


def _one_value_or_members(name: str, value: Scalar) -> Scalar:
    """A hyperparameter as a float, a 0-dim tensor or a 1-D per-member tensor; other shapes are refused."""
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return value.reshape(())
        if value.ndim != 1:
            raise ValueError(f"{name} must be a number or a 1-D tensor of per-member values, got shape {value.shape}")
    return value


def _check_betas(betas: tuple[float, float]) -> None:
    for name, beta in zip(("betas[0]", "betas[1]"), betas, strict=True):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {beta}")


def _check_members(name: str, members: int, params: list[Tensor]) -> None:
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
        for flag in _UNSUPPORTED_FLAGS:
            if group.get(flag):
                raise ValueError(f"{flag}=True is not supported by {type(self).__name__}")
        for name in ("lr", "weight_decay"):
            value = _one_value_or_members(name, group[name])
            if _negative(value):
                raise ValueError(f"{name} must be >= 0, got {value}")
            if isinstance(value, Tensor) and value.ndim == 1:
                _check_members(name, len(value), group["params"])

    def _prepare(self, group: dict[str, Any]) -> None:
        """Per-member ``lr`` to ``member_lr``; remember the peak ``α`` the schedule is measured from, and what
        ``λ`` means (a checkpoint carries it)."""
        group[UNITS_KEY] = self.rule.units
        lr = _one_value_or_members("lr", group["lr"])
        group["weight_decay"] = _one_value_or_members("weight_decay", group["weight_decay"])
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
        decays = bool((torch.as_tensor(group.get("weight_decay", 0.0)) != 0).any())
        if theirs is None:
            return {**group, UNSAID: decays and ours == "paper"}
        if theirs == ours or not decays:
            return group
        if {theirs, ours} == {"paper", "torch"}:
            alpha = float(group["max_lr"]) if "max_lr" in group else group.get("peak_lr", group["lr"])
            alpha = alpha * group["member_lr"] if "member_lr" in group else alpha
            decay = group["weight_decay"] * alpha if theirs == "torch" else group["weight_decay"] / alpha
            return {**group, "weight_decay": decay, UNITS_KEY: ours}
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


def decoupled(convention: str, cautious: bool) -> DecayRule:
    """The decoupled decay rule of ``convention`` (``paper``: ``1 − η_t·λ``, ``torch``: ``1 − lr_t·λ``), applied
    only where the step and the weight agree in sign if ``cautious`` (:func:`~decaylab.optim.rules.cautiously`)."""
    rules = {"paper": PAPER, "torch": TORCH}
    if convention not in rules:
        raise ValueError(f"convention must be 'paper' or 'torch', got {convention!r}")
    return cautiously(rules[convention]) if cautious else rules[convention]


def _real(tensor: Tensor) -> Tensor:
    """A complex tensor as pairs of reals (as torch.optim treats them); a real tensor as it is."""
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


class AdamCore(DecayOptimizer):
    """Adam's direction ``m̂_t/D_t`` and a decay rule: the base of every Adam-type class.

    ``partial(AdamCore, rule=RULE)`` is an optimizer of any rule (a method record needs no class).
    """

    def __init__(
        self,
        params: Params,
        rule: DecayRule,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        implementation: Implementation = "auto",
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, rule, defaults, implementation)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        if _negative(group["eps"]):
            raise ValueError(f"eps must be >= 0, got {group['eps']}")
        _check_betas(group["betas"])

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        adam_step(self, group, params, lr, eta, betas=group["betas"], eps=group["eps"])


def adam_step(
    optimizer: DecayOptimizer,
    group: dict[str, Any],
    params: list[Tensor],
    lr: Scalar,
    eta: float,
    *,
    betas: tuple[float, float],
    eps: float,
) -> None:
    """One step of Adam's direction and ``optimizer``'s rule over ``params`` of ``group`` (state: ``step``,
    ``exp_avg``, ``exp_avg_sq``, as torch's Adam keeps them): :class:`AdamCore`'s step, and Muon's for the
    parameters that are not matrices."""
    states = [optimizer.state[p] for p in params]
    for param, state in zip(params, states, strict=True):
        if not state:
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step"] += 1
    weights, grads = [_real(p) for p in params], [_real(cast(Tensor, p.grad)) for p in params]
    moments = [_real(s["exp_avg"]) for s in states], [_real(s["exp_avg_sq"]) for s in states]
    (beta1, beta2), steps = betas, [s["step"] for s in states]
    hyper: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "eps": eps, "lr": lr, "eta": eta}
    hyper |= {"weight_decay": group["weight_decay"], "maximize": group["maximize"]}
    dispatch.adam(optimizer.rule, weights, grads, *moments, steps, implementation=optimizer.implementation, **hyper)


class SGDCore(DecayOptimizer):
    """SGD's direction (momentum ``v_t``, or the gradient) and a decay rule: the base of the SGD classes.

    ``partial(SGDCore, rule=RULE)`` is an optimizer of any rule (a method record needs no class).
    """

    def __init__(
        self,
        params: Params,
        rule: DecayRule,
        lr: Scalar = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: Scalar = 0.0,
        nesterov: bool = False,
        implementation: Implementation = "auto",
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov}
        defaults["weight_decay"] = weight_decay
        super().__init__(params, rule, defaults, implementation)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        if _negative(group["momentum"]):
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def state_dict(self) -> dict[str, Any]:
        """As torch's SGD: ``momentum_buffer`` is the momentum of the gradients, whatever path made it."""
        for param, state in self.state.items():
            if isinstance(param, Tensor) and isinstance(state, dict):  # not a flag a hook wrote
                momentum_buffer_as_torch_(_real(param), state)
        return super().state_dict()

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        dispatch.sgd(
            self.rule,
            [_real(p) for p in params],
            [_real(cast(Tensor, p.grad)) for p in params],
            [self.state[p] for p in params],
            implementation=self.implementation,
            momentum=group["momentum"],
            dampening=group["dampening"],
            nesterov=group["nesterov"],
            lr=lr,
            eta=eta,
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )


class LionCore(DecayOptimizer):
    """Lion's direction, the sign of an interpolated momentum (Chen et al. 2023), and a decay rule: the
    base of the Lion classes. Every rule but the adaptive one (Lion has no ``D_t``). No torch kernel computes a
    sign, so ``"auto"`` is the reference path; ``"compiled"`` fuses it into one loop over memory.

    ``partial(LionCore, rule=RULE)`` is an optimizer of any rule.
    """

    def __init__(
        self,
        params: Params,
        rule: DecayRule,
        lr: Scalar = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: Scalar = 0.0,
        implementation: Implementation = "auto",
    ) -> None:
        if rule.adaptive:
            raise ValueError(f"Lion has no adaptive norm D_t for the rule {rule.name!r}")
        defaults = {"lr": lr, "betas": betas, "weight_decay": weight_decay}
        super().__init__(params, rule, defaults, implementation)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _check_betas(group["betas"])

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            if not state:
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        beta1, beta2 = group["betas"]
        dispatch.lion(
            self.rule,
            [_real(p) for p in params],
            [_real(cast(Tensor, p.grad)) for p in params],
            [_real(s["exp_avg"]) for s in states],
            implementation=self.implementation,
            beta1=beta1,
            beta2=beta2,
            lr=lr,
            eta=eta,
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )


class Lion(LionCore):
    r"""Lion (Chen et al. 2023) with decoupled weight decay, in either convention.

    .. math::  u_t = \operatorname{sign}(β_1 m_{t-1} + (1-β_1) g_t),\quad m_t = β_2 m_{t-1} + (1-β_2) g_t,

    ``convention="torch"`` (the paper's Algorithm 2, ``θ ← θ − lr_t·(u_t + λθ)``):
    ``w_t = (1 - η_t α λ) w_{t-1} - η_t α u_t``; ``convention="paper"`` (the post's form, the best λ
    decoupled from α): ``w_t = (1 - η_t λ) w_{t-1} - η_t α u_t``. ``λ_paper = α·λ_torch``. ``cautious=True``
    decays only where ``u_t`` and the weight agree in sign (Chen et al. 2025).
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: Scalar = 0.0,
        *,
        convention: Literal["paper", "torch"] = "paper",
        cautious: bool = False,
        implementation: Implementation = "auto",
    ) -> None:
        self.convention = convention
        super().__init__(params, decoupled(convention, cautious), lr, betas, weight_decay, implementation)


class LionL2(LionCore):
    r"""Lion with ℓ2-regularization in the gradient: ``g ← g + λ·w`` before the sign, which normalizes
    the penalty away with everything else (as Adam's ``D_t`` does for AdamL2).

    .. math::  w_t = w_{t-1} - η_t α \operatorname{sign}(β_1 m_{t-1} + (1-β_1)(g_t + λ w_{t-1}))
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: Scalar = 0.0,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, L2_IN_GRADIENT, lr, betas, weight_decay, implementation)


MUON, ADAM = "muon", "adam"
"""The two directions a Muon optimizer's param groups take (their ``"direction"`` key)."""


class MuonCore(DecayOptimizer):
    r"""Muon's direction on matrices, Adam's on the other parameters, and one decay rule for both: the base of
    the Muon classes. Every rule but the adaptive one (Muon's matrices have no ``D_t``).

    Muon's direction (Jordan et al. 2024; ``torch.optim.Muon``): momentum, orthogonalized by Newton–Schulz,

    .. math::  B_t = μB_{t-1} + (1-μ)g_t,\quad O_t = \mathrm{NS}\big((1-μ)g_t + μB_t\big),\quad
               w_t = a\,w_{t-1} - b·r·O_t,

    ``(a, b)`` the rule's coefficients, ``r`` the step per unit of ``lr`` of ``adjust_lr_fn`` (``"original"``:
    ``√max(1, A/B)``; ``"match_rms_adamw"``: ``0.2·√max(A, B)``, Liu et al. 2025, the RMS of AdamW's step), and
    Newton–Schulz with torch's coefficients in ``ns_dtype`` (bfloat16 as torch; ``"float32"`` or ``"float64"``
    for the exact orthogonalization).

    As practice trains Muon, the parameters that are not matrices (biases, normalization gains) take Adam's
    direction ``m̂_t/D_t`` (``adam_betas``, ``adam_eps``) at the same ``lr`` and rule. Each param group says
    which in its ``"direction"`` (``"muon"`` or ``"adam"``): a group that does not is split in two when it is
    added, its 2-D parameters to Muon, so ``param_groups`` shows the split. To override it, give groups their
    direction: ``"adam"`` for embeddings or a head, ``"muon"`` for stacks ``(M, A, B)`` of members' matrices
    (:func:`~decaylab.optim.param_groups` with ``muon=True`` writes both for a model).

    ``partial(MuonCore, rule=RULE)`` is an optimizer of any rule.
    """

    def __init__(
        self,
        params: Params,
        rule: DecayRule,
        lr: Scalar = 1e-3,
        weight_decay: Scalar = 0.0,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        ns_dtype: str = "bfloat16",
        implementation: Implementation = "auto",
    ) -> None:
        if rule.adaptive:
            raise ValueError(f"Muon has no adaptive norm D_t for the rule {rule.name!r}")
        defaults: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov}
        defaults |= {"ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn}
        defaults |= {"ns_dtype": ns_dtype, "adam_betas": adam_betas, "adam_eps": adam_eps}
        super().__init__(params, rule, defaults, implementation)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; one without a ``"direction"`` as two, its real matrices taking Muon's and the rest Adam's
        (``(name, parameter)`` pairs too). Both halves are checked before either is added."""
        params = param_group["params"]
        if "direction" in param_group or isinstance(params, set):  # a set: torch's own error
            return super().add_param_group(param_group)
        candidate = {**self.defaults, **param_group}
        DecayOptimizer._check(self, candidate)  # a bad lr or λ is named first, whatever the direction
        if any(isinstance(candidate[name], Tensor) and candidate[name].numel() > 1 for name in ("lr", "weight_decay")):
            raise ValueError(
                "a group of stacked members must say its direction ('muon' for stacks of matrices (M, A, B), "
                "'adam' for the rest): param_groups(model, λ, muon=True) writes it"
            )
        params = [params] if isinstance(params, Tensor) else list(params)

        def orthogonalized(param: Tensor | tuple[str, Tensor]) -> bool:
            return is_matrix(param[1] if isinstance(param, tuple) else param)

        halves = [
            {**param_group, "params": half, "direction": direction}
            for direction, half in (
                (MUON, [p for p in params if orthogonalized(p)]),
                (ADAM, [p for p in params if not orthogonalized(p)]),
            )
            if half
        ] or [{**param_group, "params": [], "direction": MUON}]
        for half in halves:
            self._check({**self.defaults, **half})
        for half in halves:
            super().add_param_group(half)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        direction = group.get("direction", MUON)
        if direction not in (MUON, ADAM):
            raise ValueError(f"a group's direction must be 'muon' or 'adam', got {direction!r}")
        if _negative(group["momentum"]):
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["adjust_lr_fn"] not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"adjust_lr_fn must be 'original' or 'match_rms_adamw', got {group['adjust_lr_fn']!r}")
        if group["ns_dtype"] not in NS_DTYPES:
            raise ValueError(f"ns_dtype must be one of {', '.join(NS_DTYPES)}, got {group['ns_dtype']!r}")
        if _negative(group["adam_eps"]):
            raise ValueError(f"adam_eps must be >= 0, got {group['adam_eps']}")
        _check_betas(group["adam_betas"])
        for param in group["params"] if direction == MUON else ():
            if isinstance(param, Tensor) and param.is_complex():
                raise ValueError(
                    "Muon's direction takes real matrices: give a complex one a group with direction 'adam'"
                )
            if isinstance(param, Tensor) and param.ndim not in (2, 3):
                raise ValueError(
                    f"Muon's direction takes matrices (or stacks of them), got a parameter of shape "
                    f"{tuple(param.shape)}: give it a group with direction 'adam'"
                )

    def _prepare(self, group: dict[str, Any]) -> None:
        """Also a ``torch.optim.Muon`` checkpoint's groups: matrices, with this optimizer's other defaults."""
        super()._prepare(group)
        group.setdefault("direction", MUON)
        for name, value in self.defaults.items():
            group.setdefault(name, value)

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        if group["direction"] == ADAM:
            adam_step(self, group, params, lr, eta, betas=group["adam_betas"], eps=group["adam_eps"])
            return
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            if not state:
                state["momentum_buffer"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        options = {name: group[name] for name in MUON_DIRECTION}
        dispatch.muon(
            self.rule,
            list(params),
            [cast(Tensor, p.grad) for p in params],
            [s["momentum_buffer"] for s in states],
            **options,
            implementation=self.implementation,
            adjust_lr_fn=group["adjust_lr_fn"],
            lr=lr,
            eta=eta,
            weight_decay=group["weight_decay"],
            maximize=group["maximize"],
        )


class Muon(MuonCore):
    r"""Muon (Jordan et al. 2024; ``torch.optim.Muon``) with a decoupled decay in either convention
    (:class:`MuonCore`: the direction, and Adam's for parameters that are not matrices).

    ``convention="torch"`` (``w_t = (1 − lr_t·λ)·w_{t-1} − lr_t·r·O_t``) is ``torch.optim.Muon`` on matrices,
    and its checkpoints move both ways; ``convention="paper"`` (default, the post's form) decays by
    ``1 − η_t·λ``. ``cautious=True`` decays only where the step and the weight agree in sign (Chen et al. 2025).
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        weight_decay: Scalar = 0.0,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        convention: Literal["paper", "torch"] = "paper",
        cautious: bool = False,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        ns_dtype: str = "bfloat16",
        implementation: Implementation = "auto",
    ) -> None:
        self.convention = convention
        rule = decoupled(convention, cautious)
        direction = (lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn)
        super().__init__(
            params,
            rule,
            *direction,
            adam_betas=adam_betas,
            adam_eps=adam_eps,
            ns_dtype=ns_dtype,
            implementation=implementation,
        )


class MuonL2(MuonCore):
    r"""Muon with ℓ2-regularization in the gradient: ``g ← g + λ·w`` before the momentum and Newton–Schulz,
    which normalizes the penalty away with the gradient's scale (as Adam's ``D_t`` does for AdamL2).

    .. math::  w_t = w_{t-1} - lr_t·r·\mathrm{NS}\big(\text{momentum of } g_t + λ w_{t-1}\big)
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        weight_decay: Scalar = 0.0,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NEWTON_SCHULZ,
        eps: float = 1e-7,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
        *,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        ns_dtype: str = "bfloat16",
        implementation: Implementation = "auto",
    ) -> None:
        direction = (lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps, adjust_lr_fn)
        super().__init__(
            params,
            L2_IN_GRADIENT,
            *direction,
            adam_betas=adam_betas,
            adam_eps=adam_eps,
            ns_dtype=ns_dtype,
            implementation=implementation,
        )


class Adam(AdamCore):
    r"""Adam (Kingma & Ba 2015), no regularization.

    .. math::  w_t = w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}}

    Example::

        opt = Adam(model.parameters(), lr=1e-3)
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, NO_DECAY, lr, betas, eps, 0.0, implementation)

    def _check(self, group: dict[str, Any]) -> None:
        """Adam takes no weight decay: a group asking for some is refused, not silently left undecayed."""
        super()._check(group)
        if bool((torch.as_tensor(group["weight_decay"]) != 0).any()):
            raise ValueError("weight_decay must be 0 for Adam (it takes none); use AdamL2 or AdamW to decay")


class AdamL2(AdamCore):
    r"""Adam with ℓ2-regularization in the gradient ("AdamL2"): ``g ← g + λ·w`` before the moments.

    .. math::  w_t = w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}},\quad
               g_t = ∇f(w_{t-1}) + λ w_{t-1}

    Equals ``torch.optim.Adam(weight_decay=λ)``. ``λ`` is the scale of the penalty
    ``λ/2·‖w‖²`` added to the loss.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, L2_IN_GRADIENT, lr, betas, eps, weight_decay, implementation)


class AdamW(AdamCore):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), in either convention.

    ``convention="paper"`` (default, the post's AdamW): the decay follows the schedule only,

    .. math::  w_t = (1 - η_t λ) w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}}.

    ``convention="torch"``: the decay is also multiplied by ``α``, exactly as
    ``torch.optim.AdamW`` (and optax's ``adamw``) do,

    .. math::  w_t = (1 - η_t α λ) w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}}.

    The two are the same method under ``λ_paper = α·λ_torch``
    (:func:`~decaylab.optim.convert_weight_decay`), but a reported ``λ`` means nothing
    without its convention, and only the paper form keeps the best ``λ`` fixed when ``α``
    is retuned. ``cautious=True`` decays only where the step and the weight agree in sign
    (Chen et al. 2025; :func:`~decaylab.optim.rules.cautiously`).
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        convention: Literal["paper", "torch"] = "paper",
        cautious: bool = False,
        implementation: Implementation = "auto",
    ) -> None:
        self.convention = convention
        super().__init__(params, decoupled(convention, cautious), lr, betas, eps, weight_decay, implementation)


class ProxAdam(AdamCore):
    r"""Adam with an exact proximal step for the penalty (Zhuang et al. 2022).

    ``penalty="l2"`` (default): the exact prox of ``λ/(2α)·‖w‖²_{D_t}`` in Adam's norm,

    .. math::  w_t = \frac{1}{1 + η_t λ}\Big(w_{t-1} - η_t α \frac{\hat m_t}{D_t}\Big)
               = \mathrm{argmin}_y\ ⟨y - w_{t-1}, \hat m_t⟩ + \frac{λ}{2α}\|y\|^2_{D_t}
                 + \frac{1}{2αη_t}\|y - w_{t-1}\|^2_{D_t}.

    To first order in ``η_t·λ`` this is paper-form :class:`AdamW`.

    ``penalty="l1"`` (beyond the post: the classic closed-form prox it names): the penalty
    ``(λ/α)·‖D_t w‖₁``, whose prox in Adam's norm is a soft-threshold by ``η_t·λ``,

    .. math::  w_t = \mathrm{sign}(z)\max(|z| - η_t λ, 0),\quad z = w_{t-1} - η_t α \hat m_t/D_t.

    ``λ`` is then in weight units per step: a weight that lands within ``η_t·λ`` of zero after
    its Adam step is set to exactly zero.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        penalty: Literal["l2", "l1"] = "l2",
        implementation: Implementation = "auto",
    ) -> None:
        rules = {"l2": PROXIMAL_L2, "l1": PROXIMAL_L1}
        if penalty not in rules:
            raise ValueError(f"penalty must be 'l2' or 'l1', got {penalty!r}")
        self.penalty = penalty
        super().__init__(params, rules[penalty], lr, betas, eps, weight_decay, implementation)


class AdamP(AdamCore):
    r"""The post's AdamP: a Euclidean ℓ2 prox step in Adam's norm, so decay scales with ``1/D_t``.

    .. math::  w_t = \mathrm{argmin}_y\ ⟨y - w_{t-1}, \hat m_t⟩ + \frac{λ}{2}\|y\|^2
                 + \frac{1}{2η_tα}\|y - w_{t-1}\|^2_{D_t}
               = \frac{D_t w_{t-1} - η_t α \hat m_t}{D_t + η_t α λ}.

    To first order, ``w_t ≈ (1 − η_t α λ / D_t) w_{t-1} − η_t α \hat m_t / D_t``: weights with
    small gradients are decayed more. ``λ`` has the units of AdamL2's penalty.

    This is **not** the AdamP of Heo et al. (2021, in timm and the ``adamp`` package), which
    projects out the radial component of the update for scale-invariant weights.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, EUCLIDEAN_PROXIMAL_L2, lr, betas, eps, weight_decay, implementation)


class AdamC(AdamCore):
    r"""Adam with corrected decoupled decay (AdamC, Defazio 2025): decay ``∝ lr_t²/α``.

    .. math::  w_t = \Big(1 - λ\frac{(η_t α)^2}{α}\Big) w_{t-1} - η_t α \frac{\hat m_t}{D_t}

    The decay is torch-form AdamW's ``lr_t·λ`` times ``η_t`` once more, so the equilibrium
    weight norm of normalized layers stays steady while the schedule anneals. ``λ`` is in
    torch-form units at the peak learning rate.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, CORRECTED, lr, betas, eps, weight_decay, implementation)


class SGDL2(SGDCore):
    r"""SGD with ℓ2-regularization in the gradient: exactly ``torch.optim.SGD(weight_decay=λ)``.

    .. math::  g_t = ∇f(w_{t-1}) + λ w_{t-1},\quad v_t = μ v_{t-1} + (1-τ) g_t,\quad
               w_t = w_{t-1} - η_t α v_t

    (Nesterov: ``w_t = w_{t-1} − η_t α (g_t + μ v_t)``.) The decay passes through the momentum.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: Scalar = 0.0,
        nesterov: bool = False,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, L2_IN_GRADIENT, lr, momentum, dampening, weight_decay, nesterov, implementation)


class SGDW(SGDCore):
    r"""SGD with decoupled weight decay (Loshchilov & Hutter 2019, "SGDW"), in either convention.

    ``convention="paper"`` (default): ``w_t = (1 − η_t λ) w_{t-1} − η_t α v_t``.
    ``convention="torch"``: ``w_t = (1 − η_t α λ) w_{t-1} − η_t α v_t``, the form of
    torch-style AdamW; ``λ_paper = α·λ_torch``.

    ``v_t = μ v_{t-1} + (1 − τ) g_t`` is torch's momentum of the gradients alone: the decay
    never enters it (Nesterov: the step is along ``g_t + μ v_t``). The one-pass fused step
    keeps it shifted in ``optimizer.state`` (``shifted_momentum_buffer``); ``state_dict()``
    always holds torch's ``momentum_buffer``.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: Scalar = 0.0,
        nesterov: bool = False,
        *,
        convention: Literal["paper", "torch"] = "paper",
        implementation: Implementation = "auto",
    ) -> None:
        rules = {"paper": PAPER, "torch": TORCH}
        if convention not in rules:
            raise ValueError(f"convention must be 'paper' or 'torch', got {convention!r}")
        self.convention = convention
        super().__init__(params, rules[convention], lr, momentum, dampening, weight_decay, nesterov, implementation)


class ProxSGD(SGDCore):
    r"""SGD with the exact proximal step of ``λ/(2α)‖w‖²``: the post's reading of decay, for SGD.

    .. math::  w_t = \frac{w_{t-1} - η_t α v_t}{1 + η_t λ}
               = \mathrm{argmin}_y\ ⟨y - w_{t-1}, v_t⟩ + \frac{λ}{2α}\|y\|^2 + \frac{1}{2αη_t}\|y - w_{t-1}\|^2

    To first order in ``η_t·λ``, paper-form :class:`SGDW`.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: Scalar = 0.0,
        nesterov: bool = False,
        *,
        implementation: Implementation = "auto",
    ) -> None:
        super().__init__(params, PROXIMAL_L2, lr, momentum, dampening, weight_decay, nesterov, implementation)


MuonW = Muon
"""The design's contract name for :class:`Muon` (decoupled decay in either convention)."""
LionW = Lion
"""The design's contract name for :class:`Lion` (decoupled decay in either convention)."""
