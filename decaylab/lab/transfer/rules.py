"""The published rules for moving λ, each as the exponent of ``log λ*`` it predicts along each axis.

Measured as ``decaylab transfer`` measures: one axis moves, the others stay at the base (α fixed except
along the α axis). A rule states its λ in one convention (torch: decay ``α·λ`` per step; paper: ``λ`` per
step at the peak); the other follows from ``λ_paper = α·λ_torch``, which adds 1 to the exponent along α.
``None``: the rule says nothing about that axis, or nothing fixed (Power Lines fits its exponent in
tokens per parameter to the data). A rule may also relate two axes (:class:`Relation`): Power Lines puts λ*
on the tokens seen, ``D = N·T``, so whatever its fitted exponent, it must be the same along N and T.
"""

from __future__ import annotations

from dataclasses import dataclass

from decaylab.lab.transfer.axes import AXES
from decaylab.optim.groups import Convention


@dataclass(frozen=True)
class Relation:
    """A rule's statement about two axes: the exponent along ``first`` minus that along ``second`` is
    ``difference`` (neither is α, so it reads the same in both conventions)."""

    first: str
    second: str
    difference: float
    reason: str


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    formula: str
    convention: Convention
    exponents: dict[str, float | None]
    """Per axis (``N``, ``epochs``, ``batch``, ``lr``, ``width``): the predicted exponent of ``log λ*``."""
    note: str = ""
    relations: tuple[Relation, ...] = ()

    def exponent(self, axis: str, convention: Convention) -> float | None:
        """The predicted exponent along ``axis`` for λ in ``convention``."""
        value = self.exponents.get(axis)
        if value is None or convention == self.convention:
            return value
        shift = AXES[axis].torch_shift  # λ_torch = λ_paper/α
        return value - shift if convention == "paper" else value + shift


RULES = (
    Rule(
        "Wang & Aitchison",
        "ICML 2025, arXiv 2405.13698",
        "τ_epoch = B/(α·λ_torch·N) held fixed",
        "torch",
        {"N": -1.0, "epochs": 0.0, "batch": 1.0, "lr": -1.0, "width": 0.0},
        "width: their λ_torch ∝ d assumes μP's α ∝ 1/d; at a fixed α it predicts no change",
    ),
    Rule(
        "Power Lines (Bergsma et al.)",
        "NeurIPS 2025, arXiv 2505.13738",
        "τ = B/(η·λ·D) as a fraction of the run; its optimum a power law in tokens per parameter",
        "torch",
        {"N": None, "epochs": None, "batch": 1.0, "lr": -1.0, "width": None},
        "N, epochs, width: λ* ∝ D^-(1+c)·P^c with c fitted per setup (not fixed by the rule)",
        (Relation("N", "epochs", 0.0, "λ* depends on N and T only through D = N·T"),),
    ),
    Rule(
        "nanochat recipe",
        "karpathy/nanochat, scripts/base_train.py (practice)",
        "λ = λ_ref·√(B/B_ref)·(D_ref/D), with η ∝ √B",
        "torch",
        {"N": -1.0, "epochs": -1.0, "batch": None, "lr": None, "width": None},
        "batch: it moves η with √B, so at a fixed α it states nothing; α: not in the rule",
        (Relation("N", "epochs", 0.0, "λ ∝ 1/D with D = N·T"),),
    ),
    Rule(
        "normalized decay (Loshchilov & Hutter)",
        "ICLR 2019",
        "λ = λ_norm·√(B/(N·T))",
        "paper",
        {"N": -0.5, "epochs": -0.5, "batch": 0.5, "lr": 0.0, "width": None},
    ),
    Rule(
        "rotational equilibrium (Kosson et al.)",
        "ICML 2024, arXiv 2305.17212",
        "only η·λ_torch matters for normalized layers",
        "torch",
        {"N": None, "epochs": None, "batch": None, "lr": -1.0, "width": None},
    ),
    Rule(
        "mup (MuAdam)",
        "microsoft/mup, mup/optim.py",
        "λ_torch × the width multiplier",
        "torch",
        {"N": None, "epochs": None, "batch": None, "lr": None, "width": 1.0},
        "with its lr ÷ width multiplier, which is not applied here",
    ),
    Rule(
        "Fan et al.",
        "arXiv 2510.15262",
        "matrices λ ∝ √d (with μP's learning rate)",
        "torch",
        {"N": None, "epochs": None, "batch": None, "lr": None, "width": 0.5},
    ),
)
"""The rules in ``../shared/reference/weight-decay-rules.md``, checked against their sources where the
stored copies allowed (Power Lines' constants could not be)."""
