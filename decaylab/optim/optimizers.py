"""Drop-in ``torch.optim.Optimizer`` classes, one per rule of the post.

All share :class:`AdamCore`: param groups, ``state_dict``, closures and state keys
(``step``, ``exp_avg``, ``exp_avg_sq``) are those of ``torch.optim.Adam``, so a checkpoint
moves between decaylab and torch. ``η_t = lr_t/α`` with ``α`` the group's ``initial_lr``
(set at construction; torch's schedulers keep it), so every ``torch.optim.lr_scheduler``
drives the schedule. ``OneCycleLR`` overwrites ``initial_lr`` with ``max_lr/div_factor``:
with it, ``η_t`` is measured from that starting value, not from ``max_lr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

import torch
from torch import Tensor
from torch.optim import Optimizer

from decaylab.optim.core import (
    ADAM,
    ADAM_L2,
    ADAMC,
    ADAMP,
    ADAMW_PAPER,
    ADAMW_TORCH,
    PROX_ADAM,
    PROX_ADAM_L1,
    Rule,
    Scalar,
    adam_update,
    compiled_update_group,
    fused_update_group,
)

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
Implementation = Literal["auto", "reference", "compiled"]
_FUSED_DEVICES = ("cpu", "cuda")


def _check_nonnegative(name: str, value: Scalar) -> None:
    bad = bool((value < 0).any()) if isinstance(value, Tensor) else not value >= 0
    if bad:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _as_float(value: Scalar) -> float | None:
    """The value as a float if it is one number, else None (a per-member tensor)."""
    if isinstance(value, Tensor):
        return float(value) if value.numel() == 1 else None
    return float(value)


def eta_from_lr(lr: Scalar, initial_lr: Scalar) -> Scalar:
    """``η_t = lr_t / α``; 1 where ``α = 0`` (nothing is scheduled then)."""
    if isinstance(initial_lr, Tensor):
        return torch.where(initial_lr > 0, lr / initial_lr.clamp_min(torch.finfo(initial_lr.dtype).tiny), 1.0)
    return lr / initial_lr if initial_lr > 0 else 1.0


class AdamCore(Optimizer):
    """Adam's moments plus one :class:`~decaylab.optim.core.Rule` (the shared base class).

    ``implementation``: ``"auto"`` runs rules with scalar coefficients on torch's fused kernel
    (one pass over memory) and the rest tensor by tensor; ``"reference"`` always goes tensor
    by tensor; ``"compiled"`` runs the rule through ``torch.compile`` (a one-off compile of
    tens of seconds, cached on disk by inductor), which fuses any rule, AdamP included.
    """

    def __init__(
        self,
        params: Params,
        rule: Rule,
        lr: Scalar,
        betas: tuple[float, float],
        eps: float,
        weight_decay: Scalar,
        implementation: Implementation,
    ) -> None:
        if implementation not in ("auto", "reference", "compiled"):
            raise ValueError(f"implementation must be 'auto', 'reference' or 'compiled', got {implementation!r}")
        self.rule = rule
        self.implementation: Implementation = implementation
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group, check its hyperparameters and remember its ``initial_lr`` (``α``)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _check_nonnegative("lr", group["lr"])
        _check_nonnegative("eps", group["eps"])
        _check_nonnegative("weight_decay", group["weight_decay"])
        beta1, beta2 = group["betas"]
        for name, beta in (("betas[0]", beta1), ("betas[1]", beta2)):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {beta}")
        self._remember_initial_lr(group)

    @staticmethod
    def _remember_initial_lr(group: dict[str, Any]) -> None:
        lr = group["lr"]
        group.setdefault("initial_lr", lr.clone() if isinstance(lr, Tensor) else lr)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As torch's; a state from an optimizer without ``initial_lr`` takes its current lr."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            self._remember_initial_lr(group)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One optimizer step over every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(group, params)
        return loss

    def _state_of(self, param: Tensor) -> dict[str, Tensor]:
        if param.grad is not None and param.grad.is_sparse:
            raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
        state = self.state[param]
        if not state:
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["step"] += 1
        return cast(dict[str, Tensor], state)

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        states = [self._state_of(p) for p in params]
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        eta = eta_from_lr(lr, group["initial_lr"])
        hyper: dict[str, Any] = {"beta1": beta1, "beta2": beta2, "eps": group["eps"]}
        tensors = [
            (p, cast(Tensor, p.grad), s["exp_avg"], s["exp_avg_sq"], s["step"])
            for p, s in zip(params, states, strict=True)
        ]

        rest = tensors
        scalars = [_as_float(x) for x in (lr, eta, weight_decay)]
        if self.implementation == "auto" and self.rule.fusable and None not in scalars and float(lr) > 0:
            fused_kinds = _by_device_and_dtype([t for t in tensors if _fusable_tensor(t[0])])
            for kind in fused_kinds.values():
                weights, grads, exp_avgs, exp_avg_sqs, steps = (list(column) for column in zip(*kind, strict=True))
                steps = [step.to(weights[0].device) for step in steps]
                lr_, eta_, decay_ = cast(list[float], scalars)
                fused_update_group(
                    self.rule, weights, grads, exp_avgs, exp_avg_sqs, steps,
                    lr=lr_, eta=eta_, weight_decay=decay_, **hyper,
                )  # fmt: skip
            rest = [t for t in tensors if not _fusable_tensor(t[0])]
        if not rest:
            return

        corrections = [_bias_corrections(step, beta1, beta2) for *_, step in rest]
        if self.implementation == "compiled":
            weights, grads, exp_avgs, exp_avg_sqs, _ = (list(column) for column in zip(*rest, strict=True))
            compiled_update_group(self.rule)(
                weights, grads, exp_avgs, exp_avg_sqs,
                [tuple(_as_tensor(c) for c in pair) for pair in corrections],
                lr=_as_tensor(lr), eta=_as_tensor(eta), weight_decay=_as_tensor(weight_decay), **hyper,
            )  # fmt: skip
            return
        for (weight, grad, exp_avg, exp_avg_sq, _), (correction1, correction2) in zip(rest, corrections, strict=True):
            adam_update(
                self.rule, weight, grad, exp_avg, exp_avg_sq,
                bias_correction1=correction1, bias_correction2=correction2,
                lr=lr, eta=eta, weight_decay=weight_decay, **hyper,
            )  # fmt: skip


_Tensors = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]
"""A parameter with its gradient, ``exp_avg``, ``exp_avg_sq`` and ``step``."""


def _fusable_tensor(param: Tensor) -> bool:
    return param.device.type in _FUSED_DEVICES and param.is_floating_point()


def _by_device_and_dtype(tensors: list[_Tensors]) -> dict[tuple[torch.device, torch.dtype], list[_Tensors]]:
    kinds: dict[tuple[torch.device, torch.dtype], list[_Tensors]] = {}
    for entry in tensors:
        kinds.setdefault((entry[0].device, entry[0].dtype), []).append(entry)
    return kinds


def _bias_corrections(step: Tensor, beta1: float, beta2: float) -> tuple[float, float]:
    """``(1 − β₁ᵗ, 1 − β₂ᵗ)`` in float64, as torch's per-tensor Adam computes them."""
    t = float(step)
    return 1.0 - beta1**t, 1.0 - beta2**t


def _as_tensor(value: Scalar) -> Tensor:
    """A 0-dim float64 tensor: keeps the compiled graph free of changing Python constants."""
    return value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)


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
        super().__init__(params, ADAM, lr, betas, eps, 0.0, implementation)


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
        super().__init__(params, ADAM_L2, lr, betas, eps, weight_decay, implementation)


class AdamW(AdamCore):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), in either convention.

    ``convention="paper"`` (default, the post's AdamW): the decay follows the schedule only,

    .. math::  w_t = (1 - η_t λ) w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}}.

    ``convention="torch"``: the decay is also multiplied by ``α``, exactly as
    ``torch.optim.AdamW`` (and optax's ``adamw``) do,

    .. math::  w_t = (1 - η_t α λ) w_{t-1} - η_t α \frac{\hat m_t}{ε + \sqrt{\hat v_t}}.

    The two are the same method under ``λ_paper = α·λ_torch``
    (:func:`~decaylab.optim.convert_weight_decay`), but a reported ``λ`` means nothing
    without its convention, and only the paper form keeps the best ``λ`` fixed when ``α``
    is retuned.
    """

    def __init__(
        self,
        params: Params,
        lr: Scalar = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: Scalar = 0.0,
        *,
        convention: Literal["paper", "torch"] = "paper",
        implementation: Implementation = "auto",
    ) -> None:
        rules = {"paper": ADAMW_PAPER, "torch": ADAMW_TORCH}
        if convention not in rules:
            raise ValueError(f"convention must be 'paper' or 'torch', got {convention!r}")
        self.convention = convention
        super().__init__(params, rules[convention], lr, betas, eps, weight_decay, implementation)


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

    ``λ`` is then in weight units per step: a weight whose Adam step stays below ``η_t·λ``
    in size is set to exactly zero.
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
        rules = {"l2": PROX_ADAM, "l1": PROX_ADAM_L1}
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
        super().__init__(params, ADAMP, lr, betas, eps, weight_decay, implementation)


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
        super().__init__(params, ADAMC, lr, betas, eps, weight_decay, implementation)
