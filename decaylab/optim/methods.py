"""One record per method: its optimizer, what its ``λ`` means, its default grid, what the post expects.

Every table of the project (the command line's method names, each study's default ``λ``
grid, the units on a heatmap's axis, the claims' expectations) is derived from
:data:`METHODS`; adding a rule means adding one record here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from decaylab.optim.adam import Adam, AdamC, AdamL2, AdamP, AdamW, ProxAdam
from decaylab.optim.base import DecayOptimizer
from decaylab.optim.lion import Lion, LionL2
from decaylab.optim.muon import Muon, MuonL2
from decaylab.optim.rules import Units
from decaylab.optim.sgd import SGDL2, SGDW, ProxSGD

ADAM_LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
SGD_LRS = (3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
LION_LRS = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
"""Default learning-rate grids: SGD's steps are not normalized, so its good ``α`` lies higher; Lion's are
signs, ±1 in every coordinate, so its good ``α`` lies 3–10× below Adam's (Chen et al. 2023)."""
PER_STEP = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
"""Decay per step at the peak learning rate (paper-form AdamW, ProxAdam)."""
PER_STEP_OVER_LR = (0.0, 1e-2, 1e-1, 1.0, 10.0, 100.0)
"""Decay per step divided by ``α`` (torch-form AdamW, AdamC): ``λ ≈ λ_paper/α``, centred on ``α = 1e-3``."""
PER_STEP_OVER_SGD_LR = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Decay per step divided by ``α`` for SGD (torch-form SGDW), centred on SGD's ``α ≈ 1e-2``."""
PER_STEP_OVER_LION_LR = (0.0, 1e-1, 1.0, 10.0, 100.0, 1000.0)
"""Decay per step divided by ``α`` for Lion (torch-form Lion, Chen et al.'s own), centred on Lion's ``α ≈ 1e-4``."""
PENALTY = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
"""The ℓ2 penalty ``λ/2·‖w‖²`` added to the loss (AdamL2, AdamP, SGDL2)."""

Coupling = Literal["decoupled", "coupled"]
MATCHED = "match_rms_adamw"
"""The study's Muon steps have AdamW's RMS, ``0.2·√max(A, B)`` per unit of ``lr`` (Liu et al. 2025), so one
``α`` grid serves Muon's matrices, its Adam parameters and AdamW alike."""
LION_BETAS = (0.9, 0.99)
"""Chen et al.'s defaults: Lion's second β is its momentum, its first the interpolation for the sign."""


@dataclass(frozen=True)
class Method:
    """A rule as the studies see it.

    ``optimizer(params, **hyperparameters)`` builds it; ``family`` says which hyperparameters
    it takes besides ``lr`` (Adam: ``betas``, ``eps``; SGD: ``momentum``, ``dampening``,
    ``nesterov``; Lion: ``betas``, a study's runs taking the record's own ``betas``; Muon: ``betas`` and
    ``eps`` for the Adam direction of its parameters that are not matrices, and param groups that say which
    are: :func:`~decaylab.optim.param_groups` with ``muon=True``). ``decay_units``
    names what ``λ`` means (``units``: which kind of λ it is), ``default_weight_decays`` is its
    grid in those units, ``default_lrs`` its grid of ``α``, and ``coupling`` is what the post expects
    of its best ``λ`` as ``α`` changes: ``"decoupled"`` (flat), ``"coupled"`` (falling), or None (no
    claim).
    """

    name: str
    optimizer: Callable[..., DecayOptimizer]
    description: str
    decay_units: str
    default_weight_decays: tuple[float, ...]
    coupling: Coupling | None = None
    family: Literal["adam", "sgd", "lion", "muon"] = "adam"
    takes_weight_decay: bool = True
    units: Units = "penalty"
    """What λ is (:data:`~decaylab.optim.rules.UNITS`): a decay per step at the peak learning rate
    (``paper``), per step and unit of learning rate (``torch``, ``λ_paper = α·λ_torch``), a penalty's
    weight in the loss (``penalty``), an ℓ1 threshold per step (``l1``), or nothing (``none``)."""
    betas: tuple[float, float] | None = None
    """The method's own ``betas`` where a task's (Adam's, by default) would not suit it: Lion's (0.9, 0.99)."""

    @property
    def default_lrs(self) -> tuple[float, ...]:
        return {"sgd": SGD_LRS, "lion": LION_LRS}.get(self.family, ADAM_LRS)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("adam", Adam, "Adam, no weight decay", "no decay", (0.0,), takes_weight_decay=False, units="none"),
        Method(
            "adaml2",
            AdamL2,
            "ℓ2 penalty in the gradient (torch.optim.Adam(weight_decay=λ))",
            "λ: ℓ2 penalty in the loss",
            PENALTY,
            "coupled",
        ),
        Method(
            "adamw",
            functools.partial(AdamW, convention="paper"),
            "decoupled decay 1 − η_t·λ (Loshchilov & Hutter)",
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            units="paper",
        ),
        Method(
            "adamw-torch",
            functools.partial(AdamW, convention="torch"),
            "decoupled decay 1 − η_t·α·λ (torch.optim.AdamW)",
            "λ: decay per step / α (torch)",
            PER_STEP_OVER_LR,
            "coupled",
            units="torch",
        ),
        Method(
            "proxadam",
            ProxAdam,
            "exact ℓ2 prox in Adam's norm: shrink by 1/(1 + η_t·λ)",
            "λ: decay per step (prox)",
            PER_STEP,
            "decoupled",
            units="paper",
        ),
        Method(
            "adamp",
            AdamP,
            "the post's AdamP: Euclidean ℓ2 prox, decay scaled by 1/D_t",
            "λ: ℓ2 penalty (Euclidean prox)",
            PENALTY,
        ),
        Method(
            "adamc",
            AdamC,
            "corrected decay λ·lr_t²/α (Defazio 2025)",
            "λ: decay per step / α at peak (torch)",
            PER_STEP_OVER_LR,
            "coupled",
            units="torch",
        ),
        Method(
            "proxadam-l1",
            functools.partial(ProxAdam, penalty="l1"),
            "ℓ1 prox in Adam's norm: soft-threshold by η_t·λ",
            "λ: ℓ1 threshold per step",
            (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3),
            units="l1",
        ),
        Method(
            "sgdl2",
            SGDL2,
            "SGD, ℓ2 penalty in the gradient (torch.optim.SGD(weight_decay=λ))",
            "λ: ℓ2 penalty in the loss",
            PENALTY,
            "coupled",
            family="sgd",
        ),
        Method(
            "sgdw",
            SGDW,
            "SGD, decoupled decay 1 − η_t·λ (Loshchilov & Hutter's SGDW)",
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            family="sgd",
            units="paper",
        ),
        Method(
            "sgdw-torch",
            functools.partial(SGDW, convention="torch"),
            "SGD, decoupled decay 1 − η_t·α·λ",
            "λ: decay per step / α (torch)",
            PER_STEP_OVER_SGD_LR,
            "coupled",
            family="sgd",
            units="torch",
        ),
        Method(
            "proxsgd",
            ProxSGD,
            "SGD, exact ℓ2 prox: shrink by 1/(1 + η_t·λ)",
            "λ: decay per step (prox)",
            PER_STEP,
            "decoupled",
            family="sgd",
            units="paper",
        ),
        Method(
            "lionw",
            Lion,
            "Lion, decoupled decay 1 − η_t·λ (the post's form)",
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            family="lion",
            units="paper",
            betas=LION_BETAS,
        ),
        Method(
            "lionw-torch",
            functools.partial(Lion, convention="torch"),
            "Lion, decoupled decay 1 − η_t·α·λ (Chen et al.'s Algorithm 2)",
            "λ: decay per step / α (torch)",
            PER_STEP_OVER_LION_LR,
            "coupled",
            family="lion",
            units="torch",
            betas=LION_BETAS,
        ),
        Method(
            "lionl2",
            LionL2,
            "Lion, ℓ2 penalty in the gradient (before the sign)",
            "λ: ℓ2 penalty in the loss",
            PENALTY,
            "coupled",
            family="lion",
            betas=LION_BETAS,
        ),
        Method(
            "adamw-cautious",
            functools.partial(AdamW, convention="paper", cautious=True),
            "paper AdamW, decay only where step and weight agree in sign (Chen et al. 2025)",
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            units="paper",
        ),
        Method(
            "muonw",
            functools.partial(Muon, adjust_lr_fn=MATCHED),
            'Muon (adjust_lr_fn="match_rms_adamw"), decoupled decay 1 − η_t·λ; Adam on non-matrices',
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            family="muon",
            units="paper",
        ),
        Method(
            "muonw-torch",
            functools.partial(Muon, adjust_lr_fn=MATCHED, convention="torch"),
            'Muon (adjust_lr_fn="match_rms_adamw"), decay 1 − η_t·α·λ (torch.optim.Muon)',
            "λ: decay per step / α (torch)",
            PER_STEP_OVER_LR,
            "coupled",
            family="muon",
            units="torch",
        ),
        Method(
            "muonw-cautious",
            functools.partial(Muon, adjust_lr_fn=MATCHED, cautious=True),
            'Muon (adjust_lr_fn="match_rms_adamw"), paper decay only where step and weight agree in sign',
            "λ: decay per step (paper)",
            PER_STEP,
            "decoupled",
            family="muon",
            units="paper",
        ),
        Method(
            "muonl2",
            functools.partial(MuonL2, adjust_lr_fn=MATCHED),
            'Muon (adjust_lr_fn="match_rms_adamw"), ℓ2 penalty in the gradient (before Newton–Schulz)',
            "λ: ℓ2 penalty in the loss",
            PENALTY,
            "coupled",
            family="muon",
        ),
    )
}
"""Every method by its command-line name."""

FAMILY_HYPERPARAMETERS = {
    "adam": {"betas", "eps"},
    "sgd": {"momentum", "dampening", "nesterov"},
    "lion": {"betas"},
    "muon": {"betas", "eps", "ns_dtype"},
}
MUON_ADAM = {"betas": "adam_betas", "eps": "adam_eps"}
"""What the Adam hyperparameters are called in a Muon optimizer: those of the Adam direction of its
parameters that are not matrices (Muon's own ``eps`` is Newton–Schulz's)."""


def make_optimizer(method: str, params: Any, **hyperparameters: Any) -> DecayOptimizer:
    """The optimizer of ``method`` (a key of :data:`METHODS`).

    Hyperparameters the method does not take are left out, so one call fits every method:
    Adam ignores ``weight_decay``, the Adam family ignores ``momentum``, and only Muon takes ``ns_dtype``.
    ``betas`` and ``eps`` are Adam's everywhere: a Muon method takes them for its Adam direction (:data:`MUON_ADAM`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    record = METHODS[method]
    others = set().union(*FAMILY_HYPERPARAMETERS.values()) - FAMILY_HYPERPARAMETERS[record.family]
    if not record.takes_weight_decay:
        others.add("weight_decay")
    kept = {name: value for name, value in hyperparameters.items() if name not in others}
    if record.family == "muon":
        kept = {MUON_ADAM.get(name, name): value for name, value in kept.items()}
    return record.optimizer(params, **kept)
