"""λ on a schedule of its own (issue 25): nanochat takes Muon's λ linearly to 0 over training."""

from decaylab.claims.practice import PracticeComparison, Variant

CLAIM = PracticeComparison(
    "decay-schedule",
    "λ on its own schedule to 0, against a constant λ, under Muon",
    "nanochat (Karpathy 2025), which takes Muon's weight decay linearly to 0",
    "muonw",
    (Variant("λ linear to 0", {"decay_schedule": "linear"}, "λ taken linearly to 0 is on par with a constant λ"),),
    position=121,
)
