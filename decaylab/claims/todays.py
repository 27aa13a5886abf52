"""What the claims on today's optimizers share (Muon and Lion, issue 17): charlm, cut to fit the full run.

charlm at its own 6 epochs and batch of 32 costs 2.5 times a run of the regime below on this 2-core machine, and
these claims need over 150 runs. So they train it on its first :data:`EXAMPLES` training sequences in batches of
:data:`BATCH` for its own 6 epochs (750 steps) and measure on its first :data:`HELD_OUT` validation and test
sequences: a regime short of convergence (3.6 bits per character for AdamW, 2.6 for Muon, against 2.06 for AdamW
on the whole task), where the grids below hold each method's best cell inside them (a one-seed pilot, in
``docs/design-notes.md``). λ is in the post's paper units (decay per step) and every grid lies on one half-decade
lattice, so best cells can be compared in grid steps. Muon's steps have AdamW's RMS (``match_rms_adamw``), and
its Newton–Schulz runs in float32, as every claim's (:data:`~decaylab.claims.base.NS_DTYPE`).
"""

from __future__ import annotations

import math
from typing import Any

from decaylab.claims.base import Coupling, Lab
from decaylab.lab.runs import RunConfig

EXAMPLES = 1000
"""charlm's first training sequences the claims train on."""
HELD_OUT = 256
"""… measured on the first 256 validation and test sequences (16,384 characters each): evaluating all 715 every
epoch took a quarter of a run."""
QUICK_EXAMPLES = 64
"""… and under ``--quick``, a smoke run of the plumbing: 8 steps an epoch (1,000 sequences took 150 s of it)."""
BATCH = 8
GRIDS = {
    "adamw": ((1e-3, 3e-3, 1e-2), (0.0, 3e-4, 1e-3, 3e-3, 1e-2)),
    "muonw": ((3e-3, 1e-2, 3e-2), (0.0, 1e-3, 3e-3, 1e-2, 3e-2)),
    "lionw": ((3e-4, 1e-3, 3e-3), (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)),
}
"""Each method's (α, λ) grid, centred on its best cell of the pilot (one seed, α 1e-3 … 1e-2 for AdamW and Muon,
1e-4 … 1e-3 for Lion, λ 0 … 1e-2): AdamW's lay at α = 3e-3, λ = 1e-3 (3.58 bits per character), Muon's at
α = 1e-2, λ = 3e-3 (2.60) and Lion's at α = 1e-3, λ = 1e-2 (3.84), the last two at an edge of the pilot's grid.
Lion's λ reaches 0.1: at α = 3e-3 its best λ lay at 0.03, the grid's edge (3 seeds, 256 held-out sequences)."""
LATTICE = 0.5
"""The grids' step, in decades."""


def role(lab: Lab) -> str:
    """The claims' task: charlm on its first :data:`EXAMPLES` training sequences (:data:`QUICK_EXAMPLES` quick),
    measured on :data:`HELD_OUT`."""
    return lab.subset("charlm", QUICK_EXAMPLES if lab.plan.quick else EXAMPLES, HELD_OUT)


def axes(method: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``method``'s α and λ (a cautious rule: its plain rule's). ``--quick`` keeps them all (its one seed and
    shorter training make it quick): a column needs three λ > 0 for an interior λ*."""
    return GRIDS[method.removesuffix("-cautious")]


def grid(lab: Lab, method: str, lrs: tuple[float, ...] | None = None, **practice: Any) -> list[RunConfig]:
    """``method``'s α × λ grid over the plan's seeds (only the learning rates ``lrs``, if given), under the
    ``practice`` overrides (:class:`~decaylab.lab.practice.Practice`'s fields) if any."""
    own_lrs, decays = axes(method)
    return lab.grid(role(lab), method, lrs or own_lrs, decays, **settings(lab), **practice)


def coupling(lab: Lab, method: str, lrs: tuple[float, ...]) -> Coupling | None:
    """How ``method``'s λ* moves with α over the columns ``lrs`` of its λ grid (:meth:`~decaylab.claims.base.Lab.
    coupling`, λ* read from the grid's columns), once they are stored."""
    return lab.coupling(role(lab), method, lrs, axes(method)[1], search=False, **settings(lab))[1]


def settings(lab: Lab) -> dict[str, int]:
    """The runs' batch, and under ``--quick`` one epoch (a smoke run of the plumbing: charlm at the quick plan's
    2 epochs would take most of its time)."""
    return {"batch_size": BATCH, **({"epochs": 1} if lab.plan.quick else {})}


def steps_apart(a: float, b: float, floor: float) -> int:
    """How many lattice steps lie between two values of λ (or of α; 3e-3 lies one step from 1e-2); 0 lies one
    step below ``floor``, the smallest positive value of the grids compared."""
    low = floor / 10**LATTICE
    return round(abs(math.log10(max(a, low) / max(b, low))) / LATTICE)


def described(methods: tuple[str, ...], lrs: dict[str, tuple[float, ...]] | None = None) -> str:
    """The set-up in words, for a claim's procedure (each method's α from ``lrs`` where given)."""
    alphas = {m: (lrs or {}).get(m, GRIDS[m][0]) for m in methods}
    grids = "; ".join(
        f"{m}: α {', '.join(f'{lr:g}' for lr in alphas[m])} × λ {', '.join(f'{d:g}' for d in GRIDS[m][1])}"
        for m in methods
    )
    return (
        f"charlm on its first {EXAMPLES:,} training sequences, batches of {BATCH}, its own 6 epochs (750 steps), "
        f"measured on its first {HELD_OUT} validation and test sequences; λ in decay per step ({grids}); three "
        "seeds; Muon's Newton–Schulz in float32"
    )
