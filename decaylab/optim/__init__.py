"""Adam-type optimizers with every weight-decay rule of "Decay No More", as drop-in torch optimizers."""

from decaylab.optim.core import Rule
from decaylab.optim.groups import convert_weight_decay, param_groups
from decaylab.optim.optimizers import (
    METHODS,
    Adam,
    AdamC,
    AdamCore,
    AdamL2,
    AdamP,
    AdamW,
    ProxAdam,
    make_optimizer,
)

__all__ = [
    "METHODS",
    "Adam",
    "AdamC",
    "AdamCore",
    "AdamL2",
    "AdamP",
    "AdamW",
    "ProxAdam",
    "Rule",
    "convert_weight_decay",
    "make_optimizer",
    "param_groups",
]
