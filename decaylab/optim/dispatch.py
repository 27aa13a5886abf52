"""One dispatcher per direction: a group's step goes down the one path :func:`path` picks, as in
torch's functional ``adamw()``.

- ``fused``: one pass of torch's fused kernel with the rule's coefficients (``implementation="auto"``,
  dense floating tensors, one ``lr > 0`` and one ``λ`` for the group);
- ``fused-members``: per-member ``lr`` or ``λ`` (or ``lr = 0``): torch's kernel computes Adam's
  direction, the rule applies its per-member coefficients after it (SGD takes the reference here);
- ``compiled``: the reference through ``torch.compile`` (``implementation="compiled"``);
- ``reference``: the formulas as written, tensor by tensor (also whatever the kernels cannot take:
  strided tensors, a step traced by ``torch.compile``).

Lion has the reference and compiled paths: no fused kernel of torch's computes a sign of its momentum.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from decaylab.optim.fused import adam_fused, adam_fused_members, momentum_buffer_as_torch_, sgd_fused
from decaylab.optim.reference import (
    MUON_DIRECTION,
    adam_reference,
    adam_reference_group,
    lion_reference_group,
    lr_ratio,
    member_view,
    muon_direction,
    muon_reference,
    sgd_reference_group,
)
from decaylab.optim.rules import DecayRule, Scalar

Implementation = Literal["auto", "reference", "compiled"]
Path = Literal["fused", "fused-members", "compiled", "reference"]
FUSED_DEVICES = ("cpu", "cuda")


def as_float(value: Scalar) -> float | None:
    """The value as a float if it is one number, else None (a per-member tensor)."""
    if isinstance(value, Tensor):
        return float(value) if value.numel() == 1 else None
    return float(value)


def fusable(tensor: Tensor) -> bool:
    """Torch's fused kernels read memory as one dense block: contiguous floating tensors only."""
    return tensor.device.type in FUSED_DEVICES and tensor.is_floating_point() and tensor.is_contiguous()


def path(implementation: Implementation, tensors: Iterable[Tensor], lr: Scalar, weight_decay: Scalar) -> Path:
    """The path of one group's step (module docstring)."""
    if implementation == "auto" and not torch.compiler.is_compiling() and all(fusable(t) for t in tensors):
        one_value = as_float(lr) is not None and as_float(weight_decay) is not None
        return "fused" if one_value and float(lr) > 0 else "fused-members"
    return "compiled" if implementation == "compiled" else "reference"


def adam(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    *,
    implementation: Implementation,
    beta1: float,
    beta2: float,
    eps: float,
    lr: Scalar,
    eta: float,
    weight_decay: Scalar,
    maximize: bool,
) -> None:
    """One Adam step of ``rule`` over a group's tensors; ``steps`` are the already incremented counters."""
    chosen = path(implementation, [*weights, *grads, *exp_avgs, *exp_avg_sqs], lr, weight_decay)
    if chosen == "fused" and rule.cautious:  # its mask needs the direction, which the one-pass kernel keeps
        chosen = "fused-members"
    betas: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "eps": eps}
    if chosen == "fused":
        for kind in by_device_and_dtype(weights):
            w, g, m, v = (pick(tensors, kind) for tensors in (weights, grads, exp_avgs, exp_avg_sqs))
            steps_there = [steps[i].to(weights[i].device) for i in kind]
            scalars: dict[str, Any] = {"lr": float(lr), "eta": eta, "weight_decay": float(weight_decay)}
            adam_fused(rule, w, g, m, v, steps_there, **betas, **scalars, maximize=maximize)
        return
    grads = [-g if maximize else g for g in grads]
    corrections = [bias_corrections(step, beta1, beta2) for step in steps]
    hyper: dict[str, Any] = {**betas, "lr": lr, "eta": eta, "weight_decay": weight_decay}
    if chosen == "fused-members":
        for kind in by_device_and_dtype(weights):
            w, g, m, v = (pick(tensors, kind) for tensors in (weights, grads, exp_avgs, exp_avg_sqs))
            steps_there = [steps[i].to(weights[i].device) for i in kind]
            adam_by_member(rule, w, g, m, v, steps_there, pick(corrections, kind), **hyper)
    elif chosen == "compiled":
        tensor_corrections = [tuple(as_tensor(c) for c in pair) for pair in corrections]
        hyper = tensors_for_compiling(hyper)
        run_compiled(adam_reference_group, rule, weights, grads, exp_avgs, exp_avg_sqs, tensor_corrections, **hyper)
    else:
        for weight, grad, exp_avg, exp_avg_sq, (correction1, correction2) in zip(
            weights, grads, exp_avgs, exp_avg_sqs, corrections, strict=True
        ):
            corrected = {"bias_correction1": correction1, "bias_correction2": correction2}
            adam_reference(rule, weight, grad, exp_avg, exp_avg_sq, **corrected, **hyper)


def adam_by_member(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    exp_avg_sqs: list[Tensor],
    steps: list[Tensor],
    corrections: list[tuple[float, float]],
    **hyper: Any,
) -> None:
    """The ``fused-members`` path: each member through the one-pass kernel with its own ``lr`` and ``λ``, the
    call a lone model takes (``fused``), so its arithmetic is that model's, to the bit (:func:`by_member`). A
    member with ``lr = 0`` (stopped, or the first step of a warm-up) and a cautious rule take
    :func:`adam_fused_members`."""

    def member_step(w: list[Tensor], g: list[Tensor], m: list[Tensor], v: list[Tensor], **scalars: Any) -> None:
        if scalars["lr"] > 0 and not rule.cautious:
            adam_fused(rule, w, g, m, v, steps, maximize=False, **scalars)
        else:
            adam_fused_members(rule, w, g, m, v, steps, corrections, **scalars)

    by_member(member_step, (weights, grads, exp_avgs, exp_avg_sqs), **hyper)


def by_member(step: Callable[..., None], tensors: Sequence[list[Tensor]], **hyper: Any) -> None:
    """``step(*tensors, lr=…, weight_decay=…, **hyper)`` once per member, on its slices (``t[m]``) and with its
    own floats: element-wise kernels split a tensor into vector lanes and a scalar tail, so a member's numbers
    would otherwise depend on where it sits in its stack, and so on the other runs of its unit."""
    lr, weight_decay = hyper.pop("lr"), hyper.pop("weight_decay")
    stacked = as_float(lr) is None or as_float(weight_decay) is None
    for member, (member_lr, member_decay) in enumerate(member_values(lr, weight_decay)):
        member_tensors = [[t[member] for t in kind] if stacked else kind for kind in tensors]
        step(*member_tensors, lr=member_lr, weight_decay=member_decay, **hyper)


def member_values(lr: Scalar, weight_decay: Scalar) -> list[tuple[float, float]]:
    """``(lr, λ)`` of each member: one pair for one value of each, ``M`` from length-``M`` tensors."""
    lrs, decays = (as_tensor(value).reshape(-1).tolist() for value in (lr, weight_decay))
    members = max(len(lrs), len(decays))
    return [(lrs[m % len(lrs)], decays[m % len(decays)]) for m in range(members)]


def sgd(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    *,
    implementation: Implementation,
    momentum: float,
    dampening: float,
    nesterov: bool,
    lr: Scalar,
    eta: float,
    weight_decay: Scalar,
    maximize: bool,
) -> None:
    """One SGD step of ``rule`` over a group's tensors and their states (``momentum_buffer``)."""
    buffers = [state.get("momentum_buffer") for state in states]
    chosen = path(implementation, [t for t in (*weights, *grads, *buffers) if t is not None], lr, weight_decay)
    if chosen == "fused" and rule.cautious:  # its mask needs the direction
        chosen = "reference"
    if chosen == "fused" and not rule.in_gradient:  # the kernel divides by the shrink a, or carries it into the
        # next step's momentum, where torch's kernel takes a momentum of 0 for one without a buffer
        chosen = "fused" if float(rule.coefficients(float(lr), eta, float(weight_decay), None)[0]) > 0 else "reference"
    momenta: dict[str, Any] = {"momentum": momentum, "dampening": dampening, "nesterov": nesterov}
    if chosen == "fused":
        scalars: dict[str, Any] = {"lr": float(lr), "eta": eta, "weight_decay": float(weight_decay)}
        scalars["maximize"] = maximize
        for kind in by_device_and_dtype(weights):
            sgd_fused(rule, pick(weights, kind), pick(grads, kind), pick(states, kind), **momenta, **scalars)
        return
    for weight, state in zip(weights, states, strict=True):
        momentum_buffer_as_torch_(weight, state)
    grads = [-g if maximize else g for g in grads]
    buffers = [state.get("momentum_buffer") for state in states]
    hyper = {**momenta, "lr": lr, "eta": eta, "weight_decay": weight_decay}
    if chosen == "compiled":
        hyper = tensors_for_compiling(hyper)
        new_buffers = run_compiled(sgd_reference_group, rule, weights, grads, buffers, **hyper)
    else:  # per-member values too: two ops for the momentum, which no fused kernel takes per member
        new_buffers = sgd_reference_group(rule, weights, grads, buffers, **hyper)
    if momentum:
        for state, buffer in zip(states, new_buffers, strict=True):
            state["momentum_buffer"] = buffer


def lion(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    exp_avgs: list[Tensor],
    *,
    implementation: Implementation,
    beta1: float,
    beta2: float,
    lr: Scalar,
    eta: float,
    weight_decay: Scalar,
    maximize: bool,
) -> None:
    """One Lion step of ``rule`` over a group's tensors: the reference, or it through ``torch.compile``
    (``implementation="compiled"``: one loop over memory, 0.85–0.90× torch's fused AdamW step in
    ``benchmarks/optim_step.py``)."""
    grads = [-g if maximize else g for g in grads]
    hyper: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "lr": lr, "eta": eta, "weight_decay": weight_decay}
    if implementation == "compiled" and not torch.compiler.is_compiling():
        run_compiled(lion_reference_group, rule, weights, grads, exp_avgs, **tensors_for_compiling(hyper))
    else:
        by_member(functools.partial(lion_reference_group, rule), (weights, grads, exp_avgs), **hyper)


def muon(
    rule: DecayRule,
    weights: list[Tensor],
    grads: list[Tensor],
    buffers: list[Tensor],
    *,
    implementation: Implementation,
    maximize: bool,
    **hyper: Any,
) -> None:
    """One Muon step of ``rule`` over a group's matrices. A scalar rule updates each matrix in place, as
    ``torch.optim.Muon`` does (``w ← a·w``, then ``w += −b·r·O``), member by member when ``lr`` or ``λ`` is per
    member, with each member's own float coefficients: a stacked member's arithmetic is then the same as one
    model's, number for number. The others, and ``implementation="reference"``, take the reference."""
    grads = [-g if maximize else g for g in grads]
    if implementation == "reference" or not rule.scalar:
        for weight, grad, buffer in zip(weights, grads, buffers, strict=True):
            muon_reference(rule, weight, grad, buffer, **hyper)
        return
    lr, weight_decay = hyper["lr"], hyper["weight_decay"]
    one_value = as_float(lr) is not None and as_float(weight_decay) is not None
    members = member_values(lr, weight_decay)
    coefficients = [[float(x) for x in rule.coefficients(a, hyper["eta"], d, None)] for a, d in members]
    direction_options = {name: hyper[name] for name in MUON_DIRECTION}
    for weight, grad, buffer in zip(weights, grads, buffers, strict=True):
        if rule.in_gradient:
            grad = grad + member_view(weight_decay, weight) * weight
        orthogonal = muon_direction(grad, buffer, **direction_options)
        ratio = lr_ratio(weight.shape, hyper["adjust_lr_fn"])
        slices = [(weight, orthogonal)] if one_value else zip(weight.unbind(0), orthogonal.unbind(0), strict=True)
        for (member, update), (shrink, step) in zip(slices, coefficients, strict=True):
            member.mul_(shrink).add_(update, alpha=-step * ratio)


def by_device_and_dtype(tensors: Sequence[Tensor]) -> list[list[int]]:
    """Indices of ``tensors`` grouped by device and dtype: one fused kernel call each."""
    kinds: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for index, tensor in enumerate(tensors):
        kinds.setdefault((tensor.device, tensor.dtype), []).append(index)
    return list(kinds.values())


def pick(items: Sequence[Any], indices: list[int]) -> list[Any]:
    return [items[i] for i in indices]


def bias_corrections(step: Tensor, beta1: float, beta2: float) -> tuple[float, float]:
    """``(1 − β₁ᵗ, 1 − β₂ᵗ)`` in float64, as torch's per-tensor Adam computes them."""
    t = float(step)
    return 1.0 - beta1**t, 1.0 - beta2**t


def as_tensor(value: Scalar) -> Tensor:
    """A float64 tensor: keeps the compiled graph free of changing Python constants."""
    return value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)


def tensors_for_compiling(hyper: dict[str, Any]) -> dict[str, Any]:
    """``lr``, ``η`` and ``λ`` as tensors, so one compiled graph serves every step of a schedule."""
    return {**hyper, **{name: as_tensor(hyper[name]) for name in ("lr", "eta", "weight_decay")}}


COMPILED_GRAPHS = 64
"""Graphs a compiled update may hold (one per rule, group of shapes and dtype, and first step);
torch's default of 8 would silently send the rest to eager mode."""


@functools.cache
def _compiled(function: Callable[..., Any]) -> Callable[..., Any]:
    return torch.compile(function, dynamic=False)


def run_compiled(function: Callable[..., Any], rule: DecayRule, *args: Any, **kwargs: Any) -> Any:
    """``function(rule, …)`` through ``torch.compile``: compiled once per rule and set of tensor shapes in a
    process (static shapes, which ran faster than dynamic ones; inductor caches the code on disk, so a
    later process mostly loads it)."""
    with torch._dynamo.config.patch(recompile_limit=COMPILED_GRAPHS):
        return _compiled(function)(rule, *args, **kwargs)
