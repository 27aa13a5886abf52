"""The one Adam core: the moments once, then a rule.

Notation (the post's): ``α`` is the group's initial learning rate, ``η_t`` the schedule
multiplier, ``lr_t = α·η_t`` the group's current ``lr``, ``λ`` its ``weight_decay``, and

.. math::
    m_t = β_1 m_{t-1} + (1-β_1) g_t,\\quad v_t = β_2 v_{t-1} + (1-β_2) g_t^2,\\quad
    \\hat m_t = \\frac{m_t}{1-β_1^t},\\quad D_t = ε + \\sqrt{\\frac{v_t}{1-β_2^t}}.

Every rule then writes the new weight as a shrink ``a`` and a step ``b``,

.. math::  w_t = \\mathrm{prox}\\big(a \\odot w_{t-1} - b \\odot \\hat m_t / D_t\\big),

with ``prox`` the identity except for non-smooth penalties (ℓ1). ``AdamL2`` adds ``λ·w`` to
the gradient before the moments instead. When ``a`` and ``b`` are scalars, a step is exactly
torch's fused AdamW kernel with ``lr = b`` and ``weight_decay = (1 − a)/b``: that is the fast
path, and it reuses the rule's own coefficients rather than a second copy of its math.

Hyperparameters may be Python floats, 0-dim tensors, or 1-D tensors of length ``M`` that
broadcast over a leading member dimension of every parameter (grid-batched training).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

Scalar = float | Tensor
"""A hyperparameter: a float, a 0-dim tensor, or a length-``M`` tensor over members."""

Coefficients = Callable[[Scalar, Scalar, Scalar, Tensor | None], tuple[Scalar, Scalar]]


@dataclass(frozen=True)
class Rule:
    """One update rule on the Adam core.

    ``coefficients(lr, eta, weight_decay, D)`` returns ``(a, b)`` of
    ``w_t = a·w_{t-1} − b·m̂_t/D_t``; ``D`` is ``None`` when the rule is not ``adaptive``
    (its coefficients do not depend on ``D``), which lets it run on the fused kernel.
    ``prox(z, threshold)`` with ``threshold = η_t·λ`` follows the step, if given.
    """

    name: str
    coefficients: Coefficients
    adaptive: bool = False
    l2_in_gradient: bool = False
    prox: Callable[[Tensor, Scalar], Tensor] | None = None

    @property
    def fusable(self) -> bool:
        """True when a step equals torch's fused Adam/AdamW kernel with rescaled lr and λ."""
        return not self.adaptive and self.prox is None


def _plain_step(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """Adam: ``w_t = w_{t-1} − lr_t·m̂_t/D_t``."""
    return 1.0, lr


def _paper_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """AdamW (Loshchilov & Hutter): ``w_t = (1 − η_t·λ)·w_{t-1} − lr_t·m̂_t/D_t``."""
    return 1.0 - eta * weight_decay, lr


def _torch_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """AdamW as torch.optim.AdamW: ``w_t = (1 − lr_t·λ)·w_{t-1} − lr_t·m̂_t/D_t``."""
    return 1.0 - lr * weight_decay, lr


def _corrected_decay(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """AdamC (Defazio 2025): ``w_t = (1 − λ·lr_t²/α)·w_{t-1} − lr_t·m̂_t/D_t``; ``lr_t²/α = lr_t·η_t``."""
    return 1.0 - weight_decay * lr * eta, lr


def _proximal_l2(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """ProxAdam (Zhuang et al. 2022): ``w_t = (w_{t-1} − lr_t·m̂_t/D_t) / (1 + η_t·λ)``."""
    shrink = 1.0 / (1.0 + eta * weight_decay)
    return shrink, lr * shrink


def _euclidean_proximal_l2(lr: Scalar, eta: Scalar, weight_decay: Scalar, D: Tensor | None) -> tuple[Scalar, Scalar]:
    """The post's AdamP: ``w_t = (D_t·w_{t-1} − lr_t·m̂_t) / (D_t + lr_t·λ)``."""
    assert D is not None
    shrink = D / (D + lr * weight_decay)
    return shrink, lr * shrink


def soft_threshold(z: Tensor, threshold: Scalar) -> Tensor:
    """The prox of ``threshold·‖·‖₁``: ``sign(z)·max(|z| − threshold, 0)``."""
    return z.sign() * (z.abs() - threshold).clamp_min(0.0)


ADAM = Rule("adam", _plain_step)
ADAM_L2 = Rule("adaml2", _plain_step, l2_in_gradient=True)
ADAMW_PAPER = Rule("adamw", _paper_decay)
ADAMW_TORCH = Rule("adamw-torch", _torch_decay)
ADAMC = Rule("adamc", _corrected_decay)
PROX_ADAM = Rule("proxadam", _proximal_l2)
PROX_ADAM_L1 = Rule("proxadam-l1", _plain_step, prox=soft_threshold)
ADAMP = Rule("adamp", _euclidean_proximal_l2, adaptive=True)


def member_view(value: Scalar, like: Tensor) -> Scalar:
    """Shape a length-``M`` hyperparameter as ``(M, 1, …, 1)`` so it broadcasts over ``like``."""
    if isinstance(value, Tensor) and value.ndim == 1:
        return value.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))
    return value


def adam_update(
    rule: Rule,
    weight: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    *,
    bias_correction1: Scalar,
    bias_correction2: Scalar,
    beta1: float,
    beta2: float,
    eps: float,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> None:
    """One step of ``rule`` on one tensor, in place: the reference every other path must match."""
    lr, eta, weight_decay = (member_view(x, weight) for x in (lr, eta, weight_decay))
    if rule.l2_in_gradient:
        grad = grad + weight_decay * weight
    exp_avg.lerp_(grad, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    m_hat = exp_avg / bias_correction1
    D = (exp_avg_sq / bias_correction2).sqrt_().add_(eps)
    shrink, step = rule.coefficients(lr, eta, weight_decay, D if rule.adaptive else None)
    new_weight = shrink * weight - step * m_hat / D
    if rule.prox is not None:
        new_weight = rule.prox(new_weight, eta * weight_decay)
    weight.copy_(new_weight)


def adam_update_group(
    rule: Rule,
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    bias_corrections: Sequence[tuple[Scalar, Scalar]],
    *,
    beta1: float,
    beta2: float,
    eps: float,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> None:
    """``adam_update`` over a group of tensors (the function ``torch.compile`` fuses)."""
    for weight, grad, exp_avg, exp_avg_sq, (bias_correction1, bias_correction2) in zip(
        weights, grads, exp_avgs, exp_avg_sqs, bias_corrections, strict=True
    ):
        adam_update(
            rule, weight, grad, exp_avg, exp_avg_sq,
            bias_correction1=bias_correction1, bias_correction2=bias_correction2,
            beta1=beta1, beta2=beta2, eps=eps, lr=lr, eta=eta, weight_decay=weight_decay,
        )  # fmt: skip


@functools.cache
def compiled_update_group(rule: Rule) -> Callable[..., None]:
    """``adam_update_group`` for ``rule``, compiled once per process (inductor caches on disk)."""
    return torch.compile(functools.partial(adam_update_group, rule), dynamic=False)


def fused_update_group(
    rule: Rule,
    weights: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    *,
    beta1: float,
    beta2: float,
    eps: float,
    lr: float,
    eta: float,
    weight_decay: float,
) -> None:
    """A whole group in one pass of torch's fused kernel (tensors of one device and dtype).

    Needs ``rule.fusable``, float hyperparameters and a step ``b > 0``. ``steps`` are the
    already incremented step counters. AdamL2 is ``torch._fused_adam_`` with ``λ``; a decoupled
    rule ``(a, b)`` is ``torch._fused_adamw_`` with ``lr = b``, ``weight_decay = (1 − a)/b``.
    """
    shrink, step = rule.coefficients(lr, eta, weight_decay, None)
    kernel, kernel_decay = (
        (torch._fused_adam_, weight_decay)
        if rule.l2_in_gradient
        else (torch._fused_adamw_, (1.0 - float(shrink)) / float(step))
    )
    kernel(
        weights, grads, exp_avgs, exp_avg_sqs, [], steps,
        lr=float(step), beta1=beta1, beta2=beta2, weight_decay=kernel_decay, eps=eps,
        amsgrad=False, maximize=False,
    )  # fmt: skip
