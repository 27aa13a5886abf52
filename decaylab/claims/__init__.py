"""The post's claims, and the work that followed it, as checks with verdicts: ``decaylab claims``.

Every module of this package that defines ``CLAIM`` is one claim (its plan, measurement, verdict
rule and figure) behind the small interface of :class:`~decaylab.claims.base.Claim`; that line is
its registration. Adding a claim is one module and its test: :func:`registry` finds it, and its
``position`` places it in the report and in one of :data:`GROUPS`, each its own command with its own time
budget: ``decaylab claims`` (the post's), ``--todays-decoupling`` (decoupling under Muon and Lion), ``--todays``
(today's other claims) and ``--practice`` (the practitioners' questions).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decaylab.claims.base import Claim


TODAYS_FROM = 110
"""The first position of the claims on today's optimizers: Muon and Lion's decoupling, then the others (Muon's RMS,
cautious decay, the equilibrium norms) from :data:`TODAYS_OTHERS_FROM`."""
TODAYS_OTHERS_FROM = 111
PRACTICE_FROM = 120
"""The first position of the practitioners' questions (which parameters, λ's schedule, Muon's Adam half)."""
GROUPS = {
    "post": "The post's claims",
    "todays-decoupling": "Decoupling under today's optimizers",
    "todays": "Today's optimizers",
    "practice": "The practitioners' questions",
}
"""The claims' sets, each its own command with its own time budget, by the name ``decaylab claims`` gives them
(``--todays-decoupling``, ``--todays``, ``--practice``; the post's: no flag)."""


def group_of(position: int) -> str:
    """The set of :data:`GROUPS` a claim at ``position`` belongs to."""
    if position < TODAYS_FROM:
        return "post"
    if position < TODAYS_OTHERS_FROM:
        return "todays-decoupling"
    return "todays" if position < PRACTICE_FROM else "practice"


@functools.cache
def registry() -> dict[str, Claim]:
    """Every claim by name, in report order."""
    claims = []
    for module in pkgutil.iter_modules(__path__):
        claim = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CLAIM", None)
        if claim is not None:
            claims.append(claim)
    return {claim.name: claim for claim in sorted(claims, key=lambda claim: claim.position)}
