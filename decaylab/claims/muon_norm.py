"""Muon with decoupled decay keeps ``‖W‖_op ≤ r·s/λ_torch`` (:mod:`decaylab.claims.bounds`); MuonL2 need not."""

from __future__ import annotations

from decaylab.claims.bounds import NEWTON_SCHULZ_SUP, EquilibriumBound
from decaylab.lab.training.probes import SpectralNormPerScale

CLAIM = EquilibriumBound(
    name="muon-norm",
    title="Muon's decoupled decay bounds the spectral norm",
    source="Chen, Li & Liu 2025 (arXiv 2506.15054)",
    decoupled="muonw-torch",
    in_gradient="muonl2",
    probe=SpectralNormPerScale.name,
    norm="spectral norm per Muon scale r",
    step_norm=NEWTON_SCHULZ_SUP,
    lr=1e-2,
    decays=(0.3, 1.0, 3.0),
    position=115,
)
