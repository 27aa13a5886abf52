"""Which parameters λ should reach (issue 25): biases and norms, and embeddings, decayed or spared."""

from decaylab.claims.practice import PracticeComparison, Variant

CLAIM = PracticeComparison(
    "decayed-parameters",
    "Which parameters to decay: biases, norms and embeddings",
    "timm's param_groups_weight_decay (biases and norms spared); language-model recipes that spare embeddings",
    "adamw",
    (
        Variant("every parameter", {"decayed": "all"}, "decaying biases and norms too is on par with sparing them"),
        Variant(
            "no embeddings",
            {"decayed": "matrices-no-embeddings"},
            "sparing the embeddings as well is on par with decaying them",
        ),
    ),
    position=120,
)
