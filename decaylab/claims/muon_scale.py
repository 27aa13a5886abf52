"""ℓ2 through Muon's orthogonalization (issue 17, claim 4): like AdamL2, its best λ moves with the loss's scale.

Newton–Schulz starts from ``G/‖G‖``, so Muon's step does not change when the loss is multiplied by ``c``, and
neither does a decoupled decay: paper MuonW's best λ stays put. MuonL2 adds ``λ·w`` to the gradient before
the orthogonalization, where it competes with a gradient ``c`` times larger, so its best λ should move by
``log10 c`` decades, as AdamL2's does (the ``scale`` claim, measured the same way). On the MLP, whose three
layers are matrices Muon orthogonalizes (a CNN's kernels would take Adam's direction).
"""

from __future__ import annotations

from decaylab.claims.scale import ScaleFreeness

CLAIM = ScaleFreeness(
    "muon-scale",
    "ℓ2 through Muon's orthogonalization: scale-freeness",
    "the post's AdamL2 argument (Zhuang et al. 2022), for Muon",
    {"muonw": False, "muonl2": True},
    role="mlp",
    on="the MNIST-1D MLP",
    base="muonw",
    base_decays=(0.0,),
    position=113,
)
