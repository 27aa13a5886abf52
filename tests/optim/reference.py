"""An independent reference of the post's formulas (NumPy, float64) and a shared set-up.

The set-up of the acceptance checks: two parameter groups with their own ``lr`` and ``λ``,
a warm-up + cosine ``LambdaLR``, 60 steps of a deterministic gradient ``g = w³ − c_t``. SGD
rules run with momentum 0.9 (and Nesterov where asked).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from decaylab.optim import METHODS, WeightDecaySchedule, make_optimizer

ALL_METHODS = list(METHODS)
ADAM_METHODS = [name for name, method in METHODS.items() if method.family == "adam"]
SGD_METHODS = [name for name, method in METHODS.items() if method.family == "sgd"]
LION_METHODS = [name for name, method in METHODS.items() if method.family == "lion"]
MUON_METHODS = [name for name, method in METHODS.items() if method.family == "muon"]
FAMILIES = {
    name: [other for other in METHODS if METHODS[other].family == method.family] for name, method in METHODS.items()
}
MUON_MOMENTUM = 0.95
NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
STEPS = 60
BETAS = (0.9, 0.999)
MOMENTUM = 0.9


def warmup_cosine(k: int) -> float:
    """The schedule multiplier after ``k`` scheduler steps: 10 steps of warm-up, then cosine."""
    if k < 10:
        return (k + 1) / 10
    return 0.5 * (1 + math.cos(math.pi * (k - 10) / (STEPS - 10)))


def constant(k: int) -> float:
    return 1.0


@dataclass
class Group:
    init: np.ndarray
    lr: float
    weight_decay: float
    seed: int

    def target(self, t: int) -> np.ndarray:
        """The ``c_t`` of this group's gradient ``w³ − c_t`` at step ``t``."""
        return np.random.default_rng((self.seed, t)).normal(size=self.init.shape)


GROUPS = [
    Group(np.random.default_rng(1).normal(size=(4, 3)), lr=0.05, weight_decay=0.3, seed=1),
    Group(np.random.default_rng(2).normal(size=(5,)), lr=0.02, weight_decay=0.1, seed=2),
]


def reference_step(method, w, u, D, lr, eta, lam, alpha):
    """The post's update of ``w`` for ``method`` along the direction ``u`` (Adam: ``m̂/D``; SGD: ``v``; Lion:
    ``sign(β₁m + (1−β₁)g)``)."""
    if method in ("adam", "adaml2", "sgdl2", "lionl2", "muonl2"):
        return w - lr * u
    if method in ("adamw", "sgdw", "lionw", "muonw"):  # (1 − η_t λ) w − η_t α u
        return (1 - eta * lam) * w - lr * u
    if method in ("adamw-torch", "sgdw-torch", "lionw-torch", "muonw-torch"):  # (1 − η_t α λ) w − η_t α u
        return (1 - lr * lam) * w - lr * u
    if method in ("adamw-cautious", "muonw-cautious"):  # the decay only where u and w agree in sign
        return (1 - eta * lam * (u * w >= 0)) * w - lr * u
    if method in ("proxadam", "proxsgd"):  # (1 − λη/(1+λη)) w − ηα/(1+λη) u
        return (1 - lam * eta / (1 + lam * eta)) * w - lr / (1 + lam * eta) * u
    if method == "adamp":  # w − ληα/(D+ληα) w − ηα m̂/(D+ληα), with m̂ = D·u
        return w - lam * lr / (D + lam * lr) * w - lr * (D * u) / (D + lam * lr)
    if method == "adamc":  # (1 − λ lr²/α) w − lr u
        return (1 - lam * lr**2 / alpha) * w - lr * u
    if method == "proxadam-l1":  # soft-threshold of the Adam step by η_t λ
        z = w - lr * u
        return np.sign(z) * np.maximum(np.abs(z) - eta * lam, 0.0)
    raise KeyError(method)


def reference_trajectory(
    method: str,
    groups: list[Group] = GROUPS,
    schedule: Callable[[int], float] = warmup_cosine,
    steps: int = STEPS,
    eps: float = 1e-8,
    grad_scale: float = 1.0,
    nesterov: bool = False,
    decay_schedule: Callable[[int], float] = constant,
) -> list[np.ndarray]:
    """Final weights of each group after ``steps`` steps of the post's formula, with ``λ_t = λ·μ(t − 1)``."""
    beta1, beta2 = BETAS
    finals = []
    for group in groups:
        w, m, v = group.init.copy(), np.zeros_like(group.init), np.zeros_like(group.init)
        for t in range(1, steps + 1):
            eta, lam = schedule(t - 1), group.weight_decay * decay_schedule(t - 1)
            lr = group.lr * eta
            g = grad_scale * (w**3 - group.target(t))
            if method in ("adaml2", "sgdl2", "lionl2", "muonl2"):
                g = g + lam * w
            if method in SGD_METHODS:  # torch's momentum: v_1 = g_1, then v_t = μ v_{t−1} + g_t
                m = g if t == 1 else MOMENTUM * m + g
                u, D = (g + MOMENTUM * m if nesterov else m), None
            elif method in LION_METHODS:  # Chen et al. 2023, Algorithm 2, with the set-up's betas
                u, D = np.sign(beta1 * m + (1 - beta1) * g), None
                m = beta2 * m + (1 - beta2) * g
            elif method in MUON_METHODS and w.ndim == 2:  # Nesterov momentum, orthogonalized, AdamW's RMS
                m = MUON_MOMENTUM * m + (1 - MUON_MOMENTUM) * g
                update = (1 - MUON_MOMENTUM) * g + MUON_MOMENTUM * m
                u, D = newton_schulz(update) * 0.2 * math.sqrt(max(w.shape)), None
            else:
                m = beta1 * m + (1 - beta1) * g
                v = beta2 * v + (1 - beta2) * g * g
                D = eps + np.sqrt(v / (1 - beta2**t))
                u = m / (1 - beta1**t) / D
            w = reference_step(method, w, u, D, lr, eta, lam, group.lr)
        finals.append(w)
    return finals


def newton_schulz(update: np.ndarray, steps: int = 5, eps: float = 1e-7) -> np.ndarray:
    """Jordan et al.'s quintic iteration toward ``U·Vᵀ``, in float64: ``X ← aX + (bA + cA²)X``, ``A = XXᵀ``, from
    ``X = G/‖G‖_F`` (wide: on the transpose)."""
    a, b, c = NEWTON_SCHULZ
    x = update.T if update.shape[0] > update.shape[1] else update
    x = x / max(np.linalg.norm(x), eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if update.shape[0] > update.shape[1] else x


def torch_trajectory(
    make: Callable[[list[dict]], torch.optim.Optimizer],
    groups: list[Group] = GROUPS,
    schedule: Callable[[int], float] = warmup_cosine,
    steps: int = STEPS,
    dtype: torch.dtype = torch.float64,
    grad_scale: float = 1.0,
    decay_schedule: str | None = None,
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """The same set-up through a torch optimizer built by ``make(param_groups)`` (λ under a
    :class:`~decaylab.optim.WeightDecaySchedule` of shape ``decay_schedule``, if given)."""
    params = [torch.nn.Parameter(torch.tensor(g.init, dtype=dtype)) for g in groups]
    optimizer = make([{"params": [p], "lr": g.lr, "weight_decay": g.weight_decay} for p, g in zip(params, groups)])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    decay = WeightDecaySchedule(optimizer, decay_schedule, steps) if decay_schedule else None
    for t in range(1, steps + 1):
        for p, g in zip(params, groups):
            target = torch.tensor(g.target(t), dtype=torch.float64)
            p.grad = (grad_scale * (p.detach().double() ** 3 - target)).to(dtype)
        optimizer.step()
        scheduler.step()
        if decay is not None:
            decay.step()
    return [p.detach() for p in params], optimizer


def decaylab_maker(method: str, **options) -> Callable[[list[dict]], torch.optim.Optimizer]:
    """A decaylab optimizer with the set-up's betas (Adam) or momentum (SGD); a method that takes no
    weight decay (Adam) gets groups without one. Muon runs Newton–Schulz in float64, as the reference does."""
    takes_decay = METHODS[method].takes_weight_decay
    if method in MUON_METHODS:
        options.setdefault("ns_dtype", "float64")

    def make(param_groups: list[dict]) -> torch.optim.Optimizer:
        groups = param_groups if takes_decay else [{**group, "weight_decay": 0.0} for group in param_groups]
        return make_optimizer(method, groups, betas=BETAS, momentum=MOMENTUM, **options)

    return make


def with_directions(method: str, weights: list[torch.nn.Parameter], **options) -> list[dict]:
    """Param groups of stacked members, ``options`` in each: a Muon method's say which direction each takes
    (stacks of matrices Muon's, the rest Adam's), as ``param_groups(model, λ, muon=True)`` would."""
    if METHODS[method].family != "muon":
        return [{"params": weights, **options}]
    return [
        {"params": [w for w in weights if (w.ndim == 3) == matrices], "direction": direction, **options}
        for direction, matrices in (("muon", True), ("adam", False))
        if any((w.ndim == 3) == matrices for w in weights)
    ]


def relative_error(actual: list, expected: list) -> float:
    worst = 0.0
    for a, e in zip(actual, expected):
        a = np.asarray(torch.as_tensor(a).double())
        e = np.asarray(torch.as_tensor(e).double())
        worst = max(worst, float(np.abs(a - e).max() / max(np.abs(e).max(), 1e-300)))
    return worst
