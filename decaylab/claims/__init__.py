"""The post's claims, and the work that followed it, as checks with verdicts: ``decaylab claims``.

Every module of this package that defines ``CLAIM`` is one claim (its plan, measurement, verdict
rule and figure) behind the small interface of :class:`~decaylab.claims.base.Claim`; that line is
its registration. Adding a claim is one module and its test: :func:`registry` finds it, and its
``position`` places it in the report and in one of :data:`GROUPS`, each its own command with its own time
budget: ``decaylab claims`` (the post's), ``--todays`` (today's optimizers) and ``--practice`` (the
practitioners' questions).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decaylab.claims.base import Claim


TODAYS_FROM = 110
"""The first position of the claims on today's optimizers (Muon, Lion, cautious decay, the equilibrium norms)."""
PRACTICE_FROM = 120
"""The first position of the practitioners' questions (which parameters, λ's schedule, Muon's Adam half)."""
GROUPS = {
    "post": "The post's claims",
    "todays": "Today's optimizers",
    "practice": "The practitioners' questions",
}
"""The claims' groups, in position order, by the name ``decaylab claims`` gives them (the post's: no flag)."""


def group_of(position: int) -> str:
    """The group of :data:`GROUPS` a claim at ``position`` belongs to."""
    return "post" if position < TODAYS_FROM else "todays" if position < PRACTICE_FROM else "practice"


@functools.cache
def registry() -> dict[str, Claim]:
    """Every claim by name, in report order."""
    claims = []
    for module in pkgutil.iter_modules(__path__):
        claim = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CLAIM", None)
        if claim is not None:
            claims.append(claim)
    return {claim.name: claim for claim in sorted(claims, key=lambda claim: claim.position)}
