"""Adam's direction ``m̂_t/D_t`` with every decay rule of the post: Adam, AdamL2, AdamW, ProxAdam, AdamP, AdamC."""

from __future__ import annotations

import warnings
from typing import Any, Literal, cast

import torch
from torch import Tensor

from decaylab.optim import dispatch
from decaylab.optim.base import DecayOptimizer, Params, as_real, check_betas, decoupled, negative
from decaylab.optim.dispatch import Implementation
from decaylab.optim.rules import (
    CORRECTED,
    EUCLIDEAN_PROXIMAL_L2,
    L2_IN_GRADIENT,
    NO_DECAY,
    PROXIMAL_L1,
    PROXIMAL_L2,
    DecayRule,
    Scalar,
)


class AdamCore(DecayOptimizer):
    """Adam's direction ``m̂_t/D_t`` and a decay rule: the base of every Adam-type class.

    ``partial(AdamCore, rule=RULE)`` is an optimizer of any rule (a method record needs no class).
    """

    FAMILY = "an Adam-type optimizer"

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
        if negative(group["eps"]):
            raise ValueError(f"eps must be >= 0, got {group['eps']}")
        check_betas(group["betas"])

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
    weights, grads = [as_real(p) for p in params], [as_real(cast(Tensor, p.grad)) for p in params]
    moments = [as_real(s["exp_avg"]) for s in states], [as_real(s["exp_avg_sq"]) for s in states]
    (beta1, beta2), steps = betas, [s["step"] for s in states]
    hyper: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "eps": eps, "lr": lr, "eta": eta}
    hyper |= {"weight_decay": group["weight_decay"], "maximize": group["maximize"]}
    dispatch.adam(optimizer.rule, weights, grads, *moments, steps, implementation=optimizer.implementation, **hyper)


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

    ``convention="paper"`` (default, the post's AdamW; a weight decay given without saying the convention warns
    once, since torch's AdamW of the same name reads λ per unit of lr): the decay follows the schedule only,

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
        convention: Literal["paper", "torch"] | None = None,
        cautious: bool = False,
        implementation: Implementation = "auto",
    ) -> None:
        if convention is None:
            convention = "paper"
            if bool((torch.as_tensor(weight_decay) != 0).any()):
                warnings.warn(UNSAID_CONVENTION, stacklevel=2)
        self.convention = convention
        super().__init__(params, decoupled(convention, cautious), lr, betas, eps, weight_decay, implementation)


UNSAID_CONVENTION = (
    "decaylab.optim.AdamW reads weight_decay as a decay per step (paper form: w ← (1 − η_t·λ)·w), not as "
    "torch.optim.AdamW's decay per unit of lr (w ← (1 − lr_t·λ)·w): a λ copied from a torch script decays "
    "1/lr times more. Say convention='paper' to keep this meaning, or convention='torch' for torch.optim.AdamW's "
    "(λ_paper = lr·λ_torch, convert_weight_decay)"
)
"""Warned when :class:`AdamW` gets a weight decay without a ``convention``: its name is torch's, its λ is not."""


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
