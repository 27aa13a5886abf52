"""Lion's direction, the sign of an interpolated momentum (Chen et al. 2023), with decoupled decay or ℓ2."""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
from torch import Tensor

from decaylab.optim import dispatch
from decaylab.optim.base import DecayOptimizer, Params, as_real, check_betas, decoupled
from decaylab.optim.dispatch import Implementation
from decaylab.optim.rules import L2_IN_GRADIENT, DecayRule, Scalar


class LionCore(DecayOptimizer):
    """Lion's direction, the sign of an interpolated momentum (Chen et al. 2023), and a decay rule: the
    base of the Lion classes. Every rule but the adaptive one (Lion has no ``D_t``). No torch kernel computes a
    sign, so ``"auto"`` is the reference path; ``"compiled"`` fuses it into one loop over memory.

    ``partial(LionCore, rule=RULE)`` is an optimizer of any rule.
    """

    FAMILY = "a Lion optimizer"

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
        check_betas(group["betas"])

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            if not state:
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        beta1, beta2 = group["betas"]
        dispatch.lion(
            self.rule,
            [as_real(p) for p in params],
            [as_real(cast(Tensor, p.grad)) for p in params],
            [as_real(s["exp_avg"]) for s in states],
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


LionW = Lion
"""The design's contract name for :class:`Lion` (decoupled decay in either convention)."""
