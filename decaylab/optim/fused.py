"""The fused paths: torch's one-pass kernels, run with the rule's own coefficients.

A rule whose coefficients ``(a, b)`` are scalars is one pass of torch's fused kernel with
rescaled arguments; the other rules take a fused Adam step and then their correction. Nothing
here restates a rule's math: the coefficients come from :class:`~decaylab.optim.rules.DecayRule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from decaylab.optim.reference import decay_, member_view
from decaylab.optim.rules import DecayRule, Scalar


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
        torch._fused_adam_(
            weights, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, weight_decay=weight_decay, **options
        )
        return
    if rule.scalar:
        shrink, step = (float(x) for x in rule.coefficients(lr, eta, weight_decay, None))
        torch._fused_adamw_(
            weights, grads, exp_avgs, exp_avg_sqs, [], steps, lr=step, weight_decay=(1.0 - shrink) / step, **options
        )
        return
    scratch = torch.empty(max(w.numel() for w in weights), dtype=weights[0].dtype, device=weights[0].device)
    for weight, grad, exp_avg, exp_avg_sq, step_count in zip(weights, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
        torch._fused_adam_(
            [weight], [grad], [exp_avg], [exp_avg_sq], [], [step_count], lr=lr, weight_decay=0.0, **options
        )
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
    torch._fused_adam_(
        directions,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        lr=-1.0,
        weight_decay=0.0,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        amsgrad=False,
        maximize=False,
    )
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
    calls = _kernel_calls(weights, states, bool(momentum), shifted)
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
            group,
            [grads[i] for i in indices],
            buffers,
            weight_decay=kernel_decay,
            momentum=kernel_momentum,
            lr=kernel_lr,
            dampening=dampening,
            nesterov=nesterov,
            maximize=maximize,
            is_first_step=first,
        )
        if shifted:
            for i in indices:
                states[i]["buffer_scale"], states[i]["buffer_shift"] = shrink, shift
        elif momentum and not rule.in_gradient:  # Nesterov
            torch._foreach_mul_(group, shrink)


def _kernel_calls(
    weights: list[Tensor], states: list[dict[str, Any]], momentum: bool, shifted: bool
) -> dict[tuple[bool, float, float], list[int]]:
    """The tensors of a group by the kernel call they take: ``(first step, a_{t−1}, k_{t−1}) → indices``, with
    each state's buffer in the form the step keeps (torch's ``v``, or the shifted ``u``), made on a first step."""
    buffer_key = "shifted_momentum_buffer" if shifted else "momentum_buffer"
    calls: dict[tuple[bool, float, float], list[int]] = {}
    for index, (weight, state) in enumerate(zip(weights, states, strict=True)):
        if not shifted:
            momentum_buffer_as_torch_(weight, state)
        elif "momentum_buffer" in state:  # torch's v is u with a_{t−1} = 1, k_{t−1} = 0
            state["shifted_momentum_buffer"] = state.pop("momentum_buffer")
        first = momentum and buffer_key not in state
        if first:
            state[buffer_key] = torch.empty_like(weight)
        previous = (float(state.get("buffer_scale", 1.0)), float(state.get("buffer_shift", 0.0)))
        calls.setdefault((first, *previous), []).append(index)
    return calls


@torch.no_grad()
def momentum_buffer_as_torch_(weight: Tensor, state: dict[str, Any]) -> None:
    """Turn ``shifted_momentum_buffer``, the ``u = v + k·w_{t−1}`` of :func:`sgd_fused`, back into
    torch's ``momentum_buffer`` ``v = a·u − k·w``."""
    if "shifted_momentum_buffer" in state:
        buffer = state.pop("shifted_momentum_buffer")
        state["momentum_buffer"] = buffer.mul_(state.pop("buffer_scale")).sub_(weight, alpha=state.pop("buffer_shift"))
