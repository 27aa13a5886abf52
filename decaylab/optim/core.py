"""The one core: an update direction × a decay rule.

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
gradient before the direction instead. When ``a`` and ``b`` are scalars, a step is one pass of
torch's fused kernel with rescaled arguments (:func:`adam_fused`, :func:`sgd_fused`): the fast
path reuses the rule's own coefficients rather than a second copy of its math.

Hyperparameters may be Python floats, 0-dim tensors, or 1-D tensors of length ``M`` that
broadcast over a leading member dimension of every parameter (grid-batched training).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

Scalar = float | Tensor
"""A hyperparameter: a float, a 0-dim tensor, or a length-``M`` tensor over members."""

Coefficients = Callable[[Scalar, Scalar, Scalar, Tensor | None], tuple[Scalar, Scalar]]


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
    adaptive: bool = False
    in_gradient: bool = False
    prox_: Callable[[Tensor, Scalar], None] | None = None

    @property
    def scalar(self) -> bool:
        """True when ``a`` and ``b`` do not vary per element, so fused kernels can apply the rule."""
        return not self.adaptive and self.prox_ is None


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


NO_DECAY = DecayRule("none", no_decay)
L2_IN_GRADIENT = DecayRule("l2", no_decay, in_gradient=True)
PAPER = DecayRule("paper", paper_decay)
TORCH = DecayRule("torch", torch_decay)
CORRECTED = DecayRule("corrected", corrected_decay)
PROXIMAL_L2 = DecayRule("proximal-l2", proximal_l2)
PROXIMAL_L1 = DecayRule("proximal-l1", no_decay, prox_=soft_threshold_)
EUCLIDEAN_PROXIMAL_L2 = DecayRule("euclidean-proximal-l2", euclidean_proximal_l2, adaptive=True)


def member_view(value: Scalar, like: Tensor) -> Scalar:
    """Shape a length-``M`` hyperparameter as ``(M, 1, …, 1)`` so it broadcasts over ``like``."""
    if isinstance(value, Tensor) and value.ndim == 1:
        return value.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))
    return value


def decay_(rule: DecayRule, weight: Tensor, direction: Tensor, D: Tensor | None, lr: Scalar, eta: Scalar,
           weight_decay: Scalar) -> None:  # fmt: skip
    """``w ← prox(a·w − b·u)`` in place, ``(a, b)`` the rule's coefficients: the reference every path matches."""
    shrink, step = rule.coefficients(lr, eta, weight_decay, D if rule.adaptive else None)
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
        adam_reference(rule, weight, grad, exp_avg, exp_avg_sq, bias_correction1=bias_correction1,
                       bias_correction2=bias_correction2, **hyperparameters)  # fmt: skip


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


COMPILED_GRAPHS = 64
"""Graphs a compiled update may hold (one per rule, group of shapes and dtype, and first step);
torch's default of 8 would silently send the rest to eager mode."""


@functools.cache
def _compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    return torch.compile(function, dynamic=False)


def run_compiled(function: Callable[..., Any], rule: DecayRule, *args: Any, **kwargs: Any) -> Any:
    """``function(rule, …)`` through ``torch.compile``: compiled once per rule and set of tensor shapes in a
    process (static shapes: 1.16× fused AdamW here, against 1.21× with dynamic ones; inductor caches
    the code on disk, so a later process mostly loads it)."""
    with torch._dynamo.config.patch(recompile_limit=COMPILED_GRAPHS):
        return _compiled(function)(rule, *args, **kwargs)


def adam_fused(
    rule: DecayRule,
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
    maximize: bool,
) -> None:
    """A group's Adam step through torch's fused kernels (tensors of one device and dtype, ``lr > 0``).

    ``steps`` are the already incremented step counters. AdamL2 is ``torch._fused_adam_`` with
    ``λ``; a scalar rule ``(a, b)`` is ``torch._fused_adamw_`` with ``lr = b``, ``weight_decay =
    (1 − a)/b``. The other rules take a plain fused Adam step, tensor by tensor while it is
    in cache, then their correction: AdamP's ``w ← w − c·w/(D + c)`` with ``c = lr·λ`` (its
    update equals the Adam step divided by ``1 + c/D``), the ℓ1 prox its soft-threshold.
    """
    options: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "eps": eps, "amsgrad": False, "maximize": maximize}
    if rule.in_gradient:
        torch._fused_adam_(weights, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, weight_decay=weight_decay,
                           **options)  # fmt: skip
        return
    if rule.scalar:
        shrink, step = (float(x) for x in rule.coefficients(lr, eta, weight_decay, None))
        torch._fused_adamw_(weights, grads, exp_avgs, exp_avg_sqs, [], steps, lr=step,
                            weight_decay=(1.0 - shrink) / step, **options)  # fmt: skip
        return
    scratch = torch.empty(max(w.numel() for w in weights), dtype=weights[0].dtype, device=weights[0].device)
    for weight, grad, exp_avg, exp_avg_sq, step_count in zip(weights, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
        torch._fused_adam_([weight], [grad], [exp_avg], [exp_avg_sq], [], [step_count], lr=lr, weight_decay=0.0,
                           **options)  # fmt: skip
        if rule.adaptive:  # AdamP; D + c = (√v + (ε + c)·s)/s with s = √(1 − β₂ᵗ)
            c, s = lr * weight_decay, (1.0 - beta2 ** float(step_count)) ** 0.5
            denominator = torch.sqrt(exp_avg_sq, out=scratch[: weight.numel()].view_as(weight)).add_((eps + c) * s)
            weight.addcdiv_(weight, denominator, value=-c * s)
        elif rule.prox_ is not None:
            rule.prox_(weight, eta * weight_decay)


def adam_fused_members(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    bias_corrections: Sequence[tuple[Scalar, Scalar]],
    *,
    beta1: float,
    beta2: float,
    eps: float,
    lr: Scalar,
    eta: Scalar,
    weight_decay: Scalar,
) -> None:
    """A group's Adam step with per-member ``lr`` or ``λ`` (tensors of one device and dtype): torch's
    fused kernel computes the direction, the rule applies its per-member coefficients.

    The kernel, run with ``lr = −1`` on zeroed tensors, updates ``m_t`` and ``v_t`` and leaves
    ``u_t = m̂_t/D_t`` in them in one pass; :func:`decay_`, the reference itself, then writes
    ``w ← prox(a·w − b·u)``. ℓ2 in the gradient enters as ``g + λ·w`` before, and adaptive rules
    read ``D_t`` back from ``v_t``. The gradients come already negated for ``maximize``.
    """
    if rule.in_gradient:
        grads = [grad + member_view(weight_decay, weight) * weight for weight, grad in zip(weights, grads, strict=True)]
    directions = [torch.zeros_like(weight) for weight in weights]
    torch._fused_adam_(directions, grads, exp_avgs, exp_avg_sqs, [], steps, lr=-1.0, weight_decay=0.0, beta1=beta1,
                       beta2=beta2, eps=eps, amsgrad=False, maximize=False)  # fmt: skip
    for weight, direction, exp_avg_sq, (_, bias_correction2) in zip(
        weights, directions, exp_avg_sqs, bias_corrections, strict=True
    ):
        D = (exp_avg_sq / bias_correction2).sqrt_().add_(eps) if rule.adaptive else None
        decay_(rule, weight, direction, D, member_view(lr, weight), eta, member_view(weight_decay, weight))


def sgd_fused(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    *,
    momentum: float,
    dampening: float,
    nesterov: bool,
    lr: float,
    eta: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """A group's SGD step through ``torch._fused_sgd_``, one pass over memory (scalar rules, ``lr > 0``).

    SGDL2 is torch's SGD. A decoupled rule ``(a, b)`` without momentum is the kernel with
    ``lr = b`` and ``weight_decay = (1 − a)/b``. With momentum, the decay must not enter the
    buffer, and one pass still suffices: the kernel keeps ``u_t = v_t + k_t·w_{t−1}`` (``k =
    (1 − a)/b``) as its buffer, with ``momentum = μ·a_{t−1}``, ``weight_decay = k_t − μ·k_{t−1}``
    and ``lr = b_t``; then ``w_t = w_{t−1} − b_t·u_t = a_t·w_{t−1} − b_t·v_t`` exactly, and
    ``v_t = a_t·u_t − k_t·w_t`` recovers the buffer (:func:`momentum_buffer_as_torch_`). The
    state keeps ``u`` as ``shifted_momentum_buffer``, so ``momentum_buffer`` always means torch's
    ``v``; a buffer in torch's form is the case ``a_{t−1} = 1, k_{t−1} = 0``. Nesterov with decoupled
    decay takes two passes: the kernel with ``lr = b/a``, then ``w ← a·w``.
    """
    shrink, step = (float(x) for x in rule.coefficients(lr, eta, weight_decay, None))
    shift = (1.0 - shrink) / step
    shifted = bool(momentum) and not nesterov and not rule.in_gradient
    buffer_key = "shifted_momentum_buffer" if shifted else "momentum_buffer"
    calls: dict[tuple[bool, float, float], list[int]] = {}  # (first step, a_{t−1}, k_{t−1}) → tensors
    for index, (weight, state) in enumerate(zip(weights, states, strict=True)):
        if not shifted:
            momentum_buffer_as_torch_(weight, state)
        elif "momentum_buffer" in state:  # torch's v is u with a_{t−1} = 1, k_{t−1} = 0
            state["shifted_momentum_buffer"] = state.pop("momentum_buffer")
        first = bool(momentum) and buffer_key not in state
        if first:
            state[buffer_key] = torch.empty_like(weight)
        previous = (float(state.get("buffer_scale", 1.0)), float(state.get("buffer_shift", 0.0)))
        calls.setdefault((first, *previous), []).append(index)
    for (first, scale_before, shift_before), indices in calls.items():
        group = [weights[i] for i in indices]
        buffers = [states[i][buffer_key] for i in indices] if momentum else []
        if rule.in_gradient:
            kernel_decay, kernel_momentum, kernel_lr = weight_decay, momentum, lr
        elif shifted:
            kernel_decay, kernel_momentum, kernel_lr = shift - momentum * shift_before, momentum * scale_before, step
        elif momentum:  # Nesterov
            kernel_decay, kernel_momentum, kernel_lr = 0.0, momentum, step / shrink
        else:
            kernel_decay, kernel_momentum, kernel_lr = shift, 0.0, step
        torch._fused_sgd_(
            group, [grads[i] for i in indices], buffers, weight_decay=kernel_decay, momentum=kernel_momentum,
            lr=kernel_lr, dampening=dampening, nesterov=nesterov, maximize=maximize, is_first_step=first,
        )  # fmt: skip
        if shifted:
            for i in indices:
                states[i]["buffer_scale"], states[i]["buffer_shift"] = shrink, shift
        elif momentum and not rule.in_gradient:  # Nesterov
            torch._foreach_mul_(group, shrink)


@torch.no_grad()
def momentum_buffer_as_torch_(weight: Tensor, state: dict[str, Any]) -> None:
    """Turn ``shifted_momentum_buffer``, the ``u = v + k·w_{t−1}`` of :func:`sgd_fused`, back into
    torch's ``momentum_buffer`` ``v = a·u − k·w``."""
    if "shifted_momentum_buffer" in state:
        buffer = state.pop("shifted_momentum_buffer")
        state["momentum_buffer"] = buffer.mul_(state.pop("buffer_scale")).sub_(weight, alpha=state.pop("buffer_shift"))
