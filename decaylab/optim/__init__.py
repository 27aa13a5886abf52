"""Adam-type optimizers with every weight-decay rule of "Decay No More", as drop-in torch optimizers."""

from decaylab.optim.core import Rule
from decaylab.optim.groups import convert_weight_decay, param_groups
from decaylab.optim.methods import METHODS, Method, make_optimizer
from decaylab.optim.optimizers import Adam, AdamC, AdamCore, AdamL2, AdamP, AdamW, ProxAdam

__all__ = [
    "METHODS",
    "Adam",
    "AdamC",
    "AdamCore",
    "AdamL2",
    "AdamP",
    "AdamW",
    "Method",
    "ProxAdam",
    "Rule",
    "convert_weight_decay",
    "make_optimizer",
    "param_groups",
]
