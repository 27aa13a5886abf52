"""The reference path: every rule applied tensor by tensor, written as the formulas read.

Every other path (:mod:`~decaylab.optim.fused`, ``torch.compile`` of these functions) is tested
against this one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from decaylab.optim.rules import DecayRule, Scalar


def member_view(value: Scalar, like: Tensor) -> Scalar:
    """Shape a length-``M`` hyperparameter as ``(M, 1, …, 1)`` so it broadcasts over ``like``."""
    if isinstance(value, Tensor) and value.ndim == 1:
        return value.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))
    return value


def decay_(
    rule: DecayRule, weight: Tensor, direction: Tensor, D: Tensor | None, lr: Scalar, eta: Scalar, weight_decay: Scalar
) -> None:
    """``w ← prox(a·w − b·u)`` in place, ``(a, b)`` the rule's coefficients: the reference every path matches."""
    shrink, step = rule.coefficients(lr, eta, weight_decay, D if rule.adaptive else None)
    if rule.cautious:  # decay only where u and w agree in sign
        shrink = 1.0 - (1.0 - shrink) * (direction * weight >= 0).to(weight.dtype)  # not float32's bool product
    new_weight = shrink * weight - step * direction
    if rule.prox_ is not None:
        rule.prox_(new_weight, eta * weight_decay)
    weight.copy_(new_weight)


def adam_reference(
    rule: DecayRule,
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
    """One Adam step of ``rule`` on one tensor, in place, written as the formulas read."""
    lr, eta, weight_decay = (member_view(x, weight) for x in (lr, eta, weight_decay))
    if rule.in_gradient:
        grad = grad + weight_decay * weight
    exp_avg.lerp_(grad, 1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    D = (exp_avg_sq / bias_correction2).sqrt_().add_(eps)
    decay_(rule, weight, exp_avg / bias_correction1 / D, D, lr, eta, weight_decay)


def adam_reference_group(
    rule: DecayRule,
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    exp_avg_sqs: Sequence[Tensor],
    bias_corrections: Sequence[tuple[Scalar, Scalar]],
    **hyperparameters: Any,
) -> None:
    """:func:`adam_reference` over a group of tensors (the function ``torch.compile`` fuses)."""
    for weight, grad, exp_avg, exp_avg_sq, (bias_correction1, bias_correction2) in zip(
        weights, grads, exp_avgs, exp_avg_sqs, bias_corrections, strict=True
    ):
        adam_reference(
            rule,
            weight,
            grad,
            exp_avg,
            exp_avg_sq,
            bias_correction1=bias_correction1,
            bias_correction2=bias_correction2,
            **hyperparameters,
        )


def sgd_reference(
    rule: DecayRule,
    weight: Tensor,
    grad: Tensor,
    momentum_buffer: Tensor | None,
    *,
    momentum: float,
    dampening: float,
    nesterov: bool,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> Tensor | None:
    """One SGD step of ``rule`` on one tensor, in place; returns the momentum buffer (None without momentum)."""
    lr, eta, weight_decay = (member_view(x, weight) for x in (lr, eta, weight_decay))
    if rule.in_gradient:
        grad = grad + weight_decay * weight
    direction = grad
    if momentum:
        if momentum_buffer is None:
            momentum_buffer = grad.clone()
        else:
            momentum_buffer.mul_(momentum).add_(grad, alpha=1.0 - dampening)
        direction = grad + momentum * momentum_buffer if nesterov else momentum_buffer
    decay_(rule, weight, direction, None, lr, eta, weight_decay)
    return momentum_buffer


def sgd_reference_group(
    rule: DecayRule,
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    momentum_buffers: Sequence[Tensor | None],
    **hyperparameters: Any,
) -> list[Tensor | None]:
    """:func:`sgd_reference` over a group of tensors; returns the momentum buffers."""
    return [
        sgd_reference(rule, weight, grad, buffer, **hyperparameters)
        for weight, grad, buffer in zip(weights, grads, momentum_buffers, strict=True)
    ]


def lion_reference(
    rule: DecayRule,
    weight: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    *,
    beta1: float,
    beta2: float,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> None:
    """One Lion step of ``rule`` on one tensor, in place (Chen et al. 2023, Algorithm 2): the direction is the
    sign of an interpolated momentum, ``u_t = sign(β₁·m_{t-1} + (1-β₁)·g_t)``, then ``m_t = β₂·m_{t-1} +
    (1-β₂)·g_t``."""
    lr, eta, weight_decay = (member_view(x, weight) for x in (lr, eta, weight_decay))
    if rule.in_gradient:
        grad = grad + weight_decay * weight
    direction = exp_avg.lerp(grad, 1.0 - beta1).sign_()
    exp_avg.lerp_(grad, 1.0 - beta2)
    decay_(rule, weight, direction, None, lr, eta, weight_decay)


def lion_reference_group(
    rule: DecayRule,
    weights: Sequence[Tensor],
    grads: Sequence[Tensor],
    exp_avgs: Sequence[Tensor],
    **hyperparameters: Any,
) -> None:
    """:func:`lion_reference` over a group of tensors (the function ``torch.compile`` fuses)."""
    for weight, grad, exp_avg in zip(weights, grads, exp_avgs, strict=True):
        lion_reference(rule, weight, grad, exp_avg, **hyperparameters)


NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
"""The quintic's coefficients of ``torch.optim.Muon`` (Jordan et al.), with its 5 steps and ``ε = 1e-7``."""


NS_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}
"""Where Newton–Schulz may run: bfloat16 as ``torch.optim.Muon`` (the default), or a wider float for a study
that wants the orthogonalization without bfloat16's rounding."""


def orthogonalized(
    update: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float, dtype: str = "bfloat16"
) -> Tensor:
    """Newton–Schulz's approximate ``U·Vᵀ`` of each matrix (the last two dimensions; a stack of members
    leads), in ``dtype`` (:data:`NS_DTYPES`); in bfloat16 it is ``torch.optim.Muon``'s computation, the same
    operations, so equal to it."""
    a, b, c = coefficients
    x = update.to(NS_DTYPES[dtype])
    wide = update.size(-2) > update.size(-1)
    if wide:
        x = x.mT
    x = x / (x.norm() if x.ndim == 2 else x.norm(dim=(-2, -1), keepdim=True)).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        if x.ndim == 2:  # torch's own ops for one matrix: the comparison with torch.optim.Muon is exact
            x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
        else:
            x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.mT if wide else x


MUON_DIRECTION = ("momentum", "nesterov", "ns_coefficients", "ns_steps", "eps", "ns_dtype")
"""The hyperparameters of Muon's direction (:func:`muon_direction`), as a group holds them."""


def lr_ratio(shape: Sequence[int], adjust_lr_fn: str | None) -> float:
    """``torch.optim.Muon``'s step size per unit of ``lr`` for an ``A × B`` matrix: ``√max(1, A/B)``
    (``"original"``, the default) or ``0.2·√max(A, B)`` (``"match_rms_adamw"``, Liu et al. 2025)."""
    rows, columns = shape[-2], shape[-1]
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, columns))
    return math.sqrt(max(1.0, rows / columns))


def muon_reference(
    rule: DecayRule,
    weight: Tensor,
    grad: Tensor,
    momentum_buffer: Tensor,
    *,
    momentum: float,
    nesterov: bool,
    ns_coefficients: tuple[float, float, float],
    ns_steps: int,
    eps: float,
    ns_dtype: str,
    adjust_lr_fn: str | None,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> None:
    """One Muon step of ``rule`` on one matrix (or a stack of them), in place: ``B ← μB + (1−μ)g``, the
    update ``(1−μ)g + μB`` (Nesterov) or ``B``, orthogonalized, times :func:`lr_ratio`."""
    lr, eta, weight_decay = (member_view(x, weight) for x in (lr, eta, weight_decay))
    if rule.in_gradient:
        grad = grad + weight_decay * weight
    orthogonal = muon_direction(grad, momentum_buffer, momentum, nesterov, ns_coefficients, ns_steps, eps, ns_dtype)
    direction = orthogonal.to(weight.dtype) * lr_ratio(weight.shape, adjust_lr_fn)
    decay_(rule, weight, direction, None, lr, eta, weight_decay)


def muon_direction(
    grad: Tensor,
    momentum_buffer: Tensor,
    momentum: float,
    nesterov: bool,
    ns_coefficients: tuple[float, float, float],
    ns_steps: int,
    eps: float,
    ns_dtype: str,
) -> Tensor:
    """``B ← μB + (1−μ)g`` in place, and the orthogonalized update (in ``ns_dtype``): Muon's direction before
    :func:`lr_ratio`."""
    momentum_buffer.lerp_(grad, 1.0 - momentum)
    update = grad.lerp(momentum_buffer, momentum) if nesterov else momentum_buffer
    return orthogonalized(update, ns_coefficients, ns_steps, eps, ns_dtype)
