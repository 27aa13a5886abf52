"""The practitioners' claims (which parameters, λ's schedule, Muon's Adam half) judge constructed grids whose
answer is known: on par, apart, or undecided (too few seeds, a best cell at an edge)."""

import math

import pytest

from decaylab.claims.adam_half import CLAIM as ADAM_HALF
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE
from decaylab.claims.decay_schedule import CLAIM as DECAY_SCHEDULE
from decaylab.claims.decayed_parameters import CLAIM as DECAYED_PARAMETERS
from decaylab.claims.practice import Measured

from .grids import grid


def peaked(height, best_decay=-3.0):
    """Accuracy peaked at α = 10^-2.5 and λ = 10^best_decay, at ``height``."""
    return lambda lr, d, s: (
        height - 0.01 * (math.log10(lr) + 2.5) ** 2 - 0.01 * (math.log10(d + 1e-9) - best_decay) ** 2
    )


@pytest.mark.parametrize("claim", [DECAYED_PARAMETERS, DECAY_SCHEDULE, ADAM_HALF])
def test_a_practice_on_par_holds_one_far_apart_does_not_and_a_near_one_or_an_edge_decides_nothing(claim):
    def judged(gain, best_decay=-3.0, seeds=(0, 1, 2, 3)):
        usual = grid(peaked(0.8), claim.method, seeds, 0.001)
        variants = {v.label: grid(peaked(0.8 + gain, best_decay), claim.method, seeds, 0.001) for v in claim.variants}
        return {verdict.verdict for verdict in claim.judge(Measured(usual, variants))[0]}

    assert judged(0.0) == {HOLDS}
    assert judged(-0.05) == {FAILS} and judged(0.05) == {FAILS}  # on par is two-sided: better is not on par
    assert judged(0.0, best_decay=0.0) == {INCONCLUSIVE}  # the practice's best at λ = 1, the grid's edge
    assert judged(0.0, seeds=(0, 1)) == {INCONCLUSIVE}  # two seeds decide nothing
    assert claim.judge(Measured(None, {}))[0][0].verdict not in (HOLDS, FAILS)


def test_claims_claims_todays_and_claims_practice_split_the_registry_between_them():
    from decaylab.claims import GROUPS, registry
    from decaylab.claims.runner import select

    post, decoupling, todays, practice = ({c.name for c in select(None, group)} for group in GROUPS)
    sets = (post, decoupling, todays, practice)
    assert set().union(*sets) == set(registry()) and sum(map(len, sets)) == len(registry())
    assert {"decoupling", "batchnorm", "language"} <= post and decoupling == {"muon-lion-decoupling"}
    assert {"muon-rms", "cautious", "muon-norm", "lion-norm", "adamw-norm", "muon-scale"} == todays
    assert practice == {"decayed-parameters", "decay-schedule", "adam-half"}
    assert [c.name for c in select(["adam-half", "proximal"])] == ["adam-half", "proximal"]  # --only: any of them
