"""Muon's direction, orthogonalized momentum on matrices (Jordan et al. 2024), Adam's on the rest, with a decay rule."""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
from torch import Tensor

from decaylab.optim import dispatch
from decaylab.optim.adam import adam_step
from decaylab.optim.base import UNSUPPORTED_FLAGS, DecayOptimizer, Params, check_betas, decoupled, negative
from decaylab.optim.dispatch import Implementation
from decaylab.optim.groups import is_matrix
from decaylab.optim.reference import MUON_DIRECTION, NEWTON_SCHULZ, NS_DTYPES
from decaylab.optim.rules import L2_IN_GRADIENT, DecayRule, Scalar

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

    FAMILY = "a Muon optimizer"

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
        if not 0.0 <= group["momentum"] < 1.0:  # B_t = μB_{t-1} + (1-μ)g_t: μ ≥ 1 never forgets, NaN fails too
            raise ValueError(f"momentum must be in [0, 1), got {group['momentum']}")
        if negative(group["eps"]):
            raise ValueError(f"eps must be >= 0, got {group['eps']}")
        steps = group["ns_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"ns_steps must be a whole number >= 1, got {steps!r}")
        if group["adjust_lr_fn"] not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"adjust_lr_fn must be 'original' or 'match_rms_adamw', got {group['adjust_lr_fn']!r}")
        if group["ns_dtype"] not in NS_DTYPES:
            raise ValueError(f"ns_dtype must be one of {', '.join(NS_DTYPES)}, got {group['ns_dtype']!r}")
        if negative(group["adam_eps"]):
            raise ValueError(f"adam_eps must be >= 0, got {group['adam_eps']}")
        check_betas(group["adam_betas"])
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
            if name not in UNSUPPORTED_FLAGS:  # torch's load adds ``differentiable`` to the defaults
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
        super().__init__(
            params,
            decoupled(convention, cautious),
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
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
        super().__init__(
            params,
            L2_IN_GRADIENT,
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
            adam_betas=adam_betas,
            adam_eps=adam_eps,
            ns_dtype=ns_dtype,
            implementation=implementation,
        )


MuonW = Muon
"""The design's contract name for :class:`Muon` (decoupled decay in either convention)."""
