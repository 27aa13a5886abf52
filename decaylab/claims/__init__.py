"""The post's claims, and the work that followed it, as checks with verdicts: ``decaylab claims``.

One module per claim (its plan, statistic, verdict rule and figure) behind the small
interface of :class:`~decaylab.claims.base.Claim`; :data:`CLAIMS` is the registry the runner
loops over, in report order. Adding a claim is one module here, one line below and its test.
"""

from decaylab.claims.adamc import CorrectedDecay
from decaylab.claims.base import FAILS, HOLDS, INCONCLUSIVE, Claim, Finding, Lab, Plan, Verdict
from decaylab.claims.batchnorm import BatchNormComparison
from decaylab.claims.decoupling import Decoupling
from decaylab.claims.language import LanguageModel
from decaylab.claims.late import LateImprovement
from decaylab.claims.proximal import ProximalStep
from decaylab.claims.ridge import RidgeRegression
from decaylab.claims.rotation import EffectiveLearningRate
from decaylab.claims.scale import ScaleFreeness
from decaylab.claims.timescale import Timescale

CLAIMS: dict[str, Claim] = {
    claim.name: claim
    for claim in (
        Decoupling(),
        BatchNormComparison(),
        LateImprovement(),
        ProximalStep(),
        ScaleFreeness(),
        EffectiveLearningRate(),
        RidgeRegression(),
        Timescale(),
        CorrectedDecay(),
        LanguageModel(),
    )
}

__all__ = ["CLAIMS", "FAILS", "HOLDS", "INCONCLUSIVE", "Claim", "Finding", "Lab", "Plan", "Verdict"]
