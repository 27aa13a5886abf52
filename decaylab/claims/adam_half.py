"""What λ Muon's Adam half wants (issue 25): the embeddings and the rest that Muon leaves to Adam."""

from decaylab.claims.practice import PracticeComparison, Variant

CLAIM = PracticeComparison(
    "adam-half",
    "The λ of Muon's Adam half: none against Muon's own",
    "Jordan et al. 2024's Muon recipe, which trains embeddings, head and scalars with a separate Adam",
    "muonw",
    (
        Variant(
            "Adam half undecayed",
            {"adam_weight_decay": 0.0},
            "leaving Muon's Adam half undecayed is on par with giving it Muon's λ",
        ),
    ),
    position=122,
)
