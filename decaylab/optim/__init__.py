"""Every weight-decay rule of "Decay No More" on Adam, SGD, Lion and Muon, as drop-in torch optimizers."""

from decaylab.optim.adam import Adam, AdamC, AdamCore, AdamL2, AdamP, AdamW, ProxAdam
from decaylab.optim.base import DecayOptimizer
from decaylab.optim.decay_schedule import DECAY_SCHEDULES, WeightDecaySchedule
from decaylab.optim.groups import convert_weight_decay, param_groups
from decaylab.optim.lion import Lion, LionCore, LionL2, LionW
from decaylab.optim.methods import METHODS, Method, make_optimizer
from decaylab.optim.muon import Muon, MuonCore, MuonL2, MuonW
from decaylab.optim.rules import DecayRule
from decaylab.optim.sgd import SGDL2, SGDW, ProxSGD, SGDCore

__all__ = [
    "DECAY_SCHEDULES",
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
    "LionW",
    "Method",
    "Muon",
    "MuonCore",
    "MuonL2",
    "MuonW",
    "ProxAdam",
    "ProxSGD",
    "SGDCore",
    "WeightDecaySchedule",
    "convert_weight_decay",
    "make_optimizer",
    "param_groups",
]
