"""The decay rules: how ``λ`` enters an update, each a few lines that read like the post's formula.

Notation (the post's): ``α`` is the group's peak learning rate, ``η_t`` the schedule
multiplier, ``lr_t = α·η_t`` the group's current ``lr``, ``λ`` its ``weight_decay``.

**Directions.** Adam's (Kingma & Ba), with ``D_t`` the adaptive norm,

.. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t,\\quad v_t = β_2 v_{t-1} + (1-β_2) g_t^2,\\quad
    D_t = ε + \\sqrt{v_t/(1-β_2^t)},\\quad u_t = \\frac{m_t/(1-β_1^t)}{D_t};

and SGD's with momentum (torch's convention: ``v_1 = g_1``; Nesterov uses ``g_t + μ v_t``),

.. math::  v_t = μ v_{t-1} + (1-τ) g_t,\\quad u_t = v_t.

**Decay rules.** Every rule writes the new weight as a shrink ``a`` and a step ``b``,

.. math::  w_t = \\mathrm{prox}\\big(a \\, w_{t-1} - b \\, u_t\\big),

with ``prox`` the identity except for the ℓ1 penalty. ``L2_IN_GRADIENT`` adds ``λ·w`` to the
gradient before the direction instead. The rules are data: :mod:`~decaylab.optim.reference`
applies them as written, :mod:`~decaylab.optim.fused` through torch's fused kernels with the
rule's own coefficients, and :mod:`~decaylab.optim.dispatch` picks the path.

Hyperparameters may be Python floats, 0-dim tensors, or 1-D tensors of length ``M`` that
broadcast over a leading member dimension of every parameter (grid-batched training).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from torch import Tensor

Scalar = float | Tensor
"""A hyperparameter: a float, a 0-dim tensor, or a length-``M`` tensor over members."""

Coefficients = Callable[[Scalar, Scalar, Scalar, Tensor | None], tuple[Scalar, Scalar]]
Units = Literal["paper", "torch", "penalty", "l1", "none"]
UNITS: dict[str, str] = {
    "paper": "a decay per step at the peak learning rate (paper form: 1 − η_t·λ)",
    "torch": "a decay per step and unit of learning rate (torch form: 1 − lr_t·λ)",
    "penalty": "the weight of the penalty λ/2·‖w‖² in the loss",
    "l1": "an ℓ1 threshold per step",
    "none": "nothing (no decay)",
}
"""The units of ``λ``; ``paper`` and ``torch`` convert exactly by ``λ_paper = α·λ_torch``."""


@dataclass(frozen=True)
class DecayRule:
    """How ``λ`` enters an update: ``w_t = prox(a·w_{t-1} − b·u_t)``.

    ``coefficients(lr, eta, weight_decay, D)`` returns ``(a, b)``; ``D`` is Adam's adaptive
    norm for ``adaptive`` rules and None otherwise. ``prox_(z, threshold)`` (in place, with
    ``threshold = η_t·λ``) follows the step, if given; ``in_gradient`` rules add ``λ·w`` to
    the gradient instead.
    """

    name: str
    coefficients: Coefficients
    units: Units
    """What ``λ`` is (:data:`UNITS`): a checkpoint records them, so a λ never changes meaning on loading."""
    adaptive: bool = False
    in_gradient: bool = False
    prox_: Callable[[Tensor, Scalar], None] | None = None
    cautious: bool = False
    """Decay only where the direction and the weight agree in sign (:func:`cautiously`)."""

    @property
    def scalar(self) -> bool:
        """True when ``a`` and ``b`` do not vary per element, so fused kernels can apply the rule."""
        return not self.adaptive and self.prox_ is None and not self.cautious


def no_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """``w_t = w_{t-1} − lr_t·u_t``."""
    return 1.0, lr


def paper_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """Loshchilov & Hutter: ``w_t = (1 − η_t·λ)·w_{t-1} − lr_t·u_t``."""
    return 1.0 - eta * weight_decay, lr


def torch_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """torch.optim.AdamW: ``w_t = (1 − lr_t·λ)·w_{t-1} − lr_t·u_t``."""
    return 1.0 - lr * weight_decay, lr


def corrected_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """AdamC (Defazio 2025): ``w_t = (1 − λ·lr_t²/α)·w_{t-1} − lr_t·u_t``; ``lr_t²/α = lr_t·η_t``."""
    return 1.0 - weight_decay * lr * eta, lr


def proximal_l2(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """Zhuang et al. 2022: ``w_t = (w_{t-1} − lr_t·u_t) / (1 + η_t·λ)``."""
    shrink = 1.0 / (1.0 + eta * weight_decay)
    return shrink, lr * shrink


def euclidean_proximal_l2(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """The post's AdamP: ``w_t = (D_t·w_{t-1} − lr_t·m̂_t) / (D_t + lr_t·λ)``, i.e. ``a = D/(D + lr·λ)``."""
    assert D is not None
    shrink = D / (D + lr * weight_decay)
    return shrink, lr * shrink


def soft_threshold_(z: Tensor, threshold: Scalar) -> None:
    """In place, the prox of ``threshold·‖·‖₁``: ``z − clamp(z, −τ, τ) = sign(z)·max(|z| − τ, 0)``."""
    z.sub_(z.clamp(-threshold, threshold))  # type: ignore[arg-type]


NO_DECAY = DecayRule("none", no_decay, "none")
L2_IN_GRADIENT = DecayRule("l2", no_decay, "penalty", in_gradient=True)
PAPER = DecayRule("paper", paper_decay, "paper")
TORCH = DecayRule("torch", torch_decay, "torch")
CORRECTED = DecayRule("corrected", corrected_decay, "torch")
PROXIMAL_L2 = DecayRule("proximal-l2", proximal_l2, "paper")
PROXIMAL_L1 = DecayRule("proximal-l1", no_decay, "l1", prox_=soft_threshold_)
EUCLIDEAN_PROXIMAL_L2 = DecayRule("euclidean-proximal-l2", euclidean_proximal_l2, "penalty", adaptive=True)


def cautiously(rule: DecayRule) -> DecayRule:
    """``rule``'s decay only where the step and the weight point the same way (Chen et al. 2025, "Cautious
    Weight Decay", arXiv 2510.12402): ``a ← 1 − (1 − a)·𝟙[u ⊙ w ≥ 0]``, the step ``b·u`` unchanged.

    Not timm's ``caution`` flag (Liang et al. 2024, "Cautious Optimizers"), which masks the *update* where it
    disagrees with the gradient and leaves the decay alone.
    """
    return replace(rule, name=f"cautious-{rule.name}", cautious=True)
