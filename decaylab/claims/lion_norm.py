"""Lion with decoupled decay keeps ``‖w‖_∞ ≤ 1/λ_torch`` (:mod:`decaylab.claims.bounds`); LionL2 need not."""

from __future__ import annotations

from decaylab.claims.bounds import EquilibriumBound
from decaylab.lab.training.probes import LargestWeight

CLAIM = EquilibriumBound(
    name="lion-norm",
    title="Lion's decoupled decay bounds the largest weight",
    source="Chen et al. 2023 (Algorithm 2); Chen, Liu et al. 2023 (Lion as constrained optimization)",
    decoupled="lionw-torch",
    in_gradient="lionl2",
    probe=LargestWeight.name,
    norm="|w|",
    step_norm=1.0,
    lr=1e-3,
    decays=(1.0, 3.0, 10.0),
    position=116,
)
