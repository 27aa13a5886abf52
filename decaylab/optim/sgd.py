"""SGD's direction (momentum, or the gradient) with ℓ2 in the gradient, decoupled decay and the exact prox."""

from __future__ import annotations

from typing import Any, Literal, cast

from torch import Tensor

from decaylab.optim import dispatch
from decaylab.optim.base import DecayOptimizer, Params, as_real, decoupled, negative
from decaylab.optim.dispatch import Implementation
from decaylab.optim.fused import momentum_buffer_as_torch_
from decaylab.optim.rules import L2_IN_GRADIENT, PROXIMAL_L2, DecayRule, Scalar


class SGDCore(DecayOptimizer):
    """SGD's direction (momentum ``v_t``, or the gradient) and a decay rule: the base of the SGD classes.

    ``partial(SGDCore, rule=RULE)`` is an optimizer of any rule (a method record needs no class).
    """

    FAMILY = "an SGD optimizer"

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
        if negative(group["momentum"]):
            raise ValueError(f"momentum must be >= 0, got {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def state_dict(self) -> dict[str, Any]:
        """As torch's SGD: ``momentum_buffer`` is the momentum of the gradients, whatever path made it."""
        for param, state in self.state.items():
            if isinstance(param, Tensor) and isinstance(state, dict):  # not a flag a hook wrote
                momentum_buffer_as_torch_(as_real(param), state)
        return super().state_dict()

    def _step_group(self, group: dict[str, Any], params: list[Tensor], lr: Scalar, eta: float) -> None:
        dispatch.sgd(
            self.rule,
            [as_real(p) for p in params],
            [as_real(cast(Tensor, p.grad)) for p in params],
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
        self.convention = convention
        rule = decoupled(convention, cautious=False)
        super().__init__(params, rule, lr, momentum, dampening, weight_decay, nesterov, implementation)


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
