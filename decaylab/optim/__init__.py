"""Every weight-decay rule of "Decay No More" on Adam, SGD, Lion and Muon, as drop-in torch optimizers."""

from decaylab.optim.groups import convert_weight_decay, param_groups
from decaylab.optim.methods import METHODS, Method, make_optimizer
from decaylab.optim.optimizers import (
    SGDL2,
    SGDW,
    Adam,
    AdamC,
    AdamCore,
    AdamL2,
    AdamP,
    AdamW,
    DecayOptimizer,
    Lion,
    LionCore,
    LionL2,
    Muon,
    MuonCore,
    MuonL2,
    ProxAdam,
    ProxSGD,
    SGDCore,
)
from decaylab.optim.rules import DecayRule

__all__ = [
    "METHODS",
    "SGDL2",
    "SGDW",
    "Adam",
    "AdamC",
    "AdamCore",
    "AdamL2",
    "AdamP",
    "AdamW",
    "DecayOptimizer",
    "DecayRule",
    "Lion",
    "LionCore",
    "LionL2",
    "Method",
    "Muon",
    "MuonCore",
    "MuonL2",
    "ProxAdam",
    "ProxSGD",
    "SGDCore",
    "convert_weight_decay",
    "make_optimizer",
    "param_groups",
]
