"""What a transfer may tell its user: the held-out verdict first, and the λ to use only where the law passed it.

A law that predicts its own points can still be wrong about the question, so the advice rests on the
held-out check alone. The law **passed** when, at every axis's held-out largest value, the measured λ* is
interior, the prediction lies within :data:`HELD_OUT_DECADES` of it, and training at the predicted λ cost
no more test metric than the noise (the regret's mean, or the low end of its 95% interval, is within the
metric's noise floor). Otherwise it **failed**, and the user is told why and what to do instead; a
``--quick`` run is a smoke run and advises nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from decaylab.lab.optimum import FLAT_CURVE, STABILITY_EDGE
from decaylab.lab.statistics import Value
from decaylab.lab.transfer.axes import LABELS, Setting
from decaylab.lab.transfer.measure import Check, Transfer
from decaylab.optim import METHODS
from decaylab.optim.methods import MATCHED

HELD_OUT_DECADES = 0.3
"""How far the predicted λ* may lie from the measured one at a held-out setting."""


@dataclass(frozen=True)
class HeldOut:
    """The verdict at one axis's held-out setting, and the numbers it rests on."""

    axis: str
    passed: bool
    why: str


@dataclass(frozen=True)
class Advice:
    """The verdict on the law and, where it passed, the λ to use at the target."""

    passed: bool
    held_out: tuple[HeldOut, ...]
    instead: tuple[str, ...]
    """What to do when there is no advice."""
    target: Setting | None
    predicted: Value
    """``log10 λ`` at the target, with its 95% prediction interval (NaN without a target or a passed law)."""
    reach: dict[str, float]
    """Per axis, how many decades the target lies beyond the values the law was fitted on."""

    @property
    def headline(self) -> str:
        """The verdict in one line."""
        checks = "; ".join(f"{LABELS[one.axis]}: {one.why}" for one in self.held_out) or "no held-out setting"
        return f"The law {'passed' if self.passed else 'failed'} its held-out check ({checks})."


def held_out_verdict(axis: str, check: Check, metric: str) -> HeldOut:
    """The rule of the module docstring at one held-out setting."""
    measured, predicted = check.measured, check.predicted
    if not math.isfinite(predicted.centre):
        return HeldOut(axis, False, "the law could not predict it")
    if measured is None:
        return HeldOut(axis, False, "every run there diverged")
    if not measured.interior:
        return HeldOut(axis, False, f"its measured λ* is {measured.kind}, so nothing to compare")
    gap = predicted.centre - measured.log_lambda
    scale, unit = (100.0, " points") if metric == "accuracy" else (1.0, "")
    lost = check.regret
    if lost.centre == math.inf:
        return HeldOut(axis, False, f"predicted − measured {gap:+.2f} decades, and the predicted λ diverged")
    low = lost.low if lost.has_interval else lost.centre
    regret = f"regret {scale * lost.centre:.3g}{unit}" + (
        f" [{scale * lost.low:.3g}, {scale * lost.high:.3g}]" if lost.has_interval else ""
    )
    close = abs(gap) <= HELD_OUT_DECADES
    cheap = math.isfinite(lost.centre) and min(lost.centre, low) <= check.noise
    limit = f"(limit ±{HELD_OUT_DECADES})"
    shown = f"predicted − measured {gap:+.2f} decades {limit}, {regret} (noise {scale * check.noise:.3g}{unit})"
    return HeldOut(axis, close and cheap, shown)


def advise(result: Transfer) -> Advice:
    """The verdict on ``result``'s law and, where it passed, the λ at its target."""
    held_out = tuple(held_out_verdict(axis, check, result.metric) for axis, check in result.checks.items())
    passed = bool(held_out) and all(one.passed for one in held_out) and not result.quick
    target = result.target.setting if result.target is not None else None
    predicted = result.target.predicted if result.target is not None and passed else Value(math.nan)
    reach = result.law.reach(target) if target is not None and result.law is not None else {}
    return Advice(passed, held_out, () if passed else instead(result), target, predicted, reach)


def instead(result: Transfer) -> tuple[str, ...]:
    """What to do when the law gives no advice, most specific first."""
    kinds = {setting: estimate.kind for setting, estimate in result.estimates.items()}
    edges = [setting for setting, kind in kinds.items() if kind == STABILITY_EDGE]
    flat = [setting for setting, kind in kinds.items() if kind == FLAT_CURVE]
    steps = []
    if result.quick:
        steps.append("this was a smoke run (--quick): run without --quick for advice")
    if edges:
        lower = result.base_lr.lr / 3
        steps.append(
            f"at {len(edges)} setting(s) λ* sits at a stability edge (the smaller λ tried were unstable): λ there "
            f"holds α = {result.base_lr.lr:g} stable rather than regularizing; run again with a lower --lr "
            f"(e.g. {lower:.2g})"
        )
    if flat:
        steps.append(
            f"at {len(flat)} setting(s) λ does not matter (its best does not beat the smallest λ by more than the "
            "seeds' noise); more seeds (--seeds) or a longer run tell whether it ever does"
        )
    steps.append("measure λ* at the target itself (--to … --verify), run more seeds (--seeds), or widen the axes")
    return tuple(steps)


def paste_lines(method: str, lr: float, decay: float) -> list[str]:
    """The lines that train with ``decay`` (in ``method``'s own units) at peak ``lr``: decaylab's, and torch's
    where a torch optimizer computes the same update (for Muon, on its matrices)."""
    record = METHODS[method]
    paper = decay if record.units == "paper" else decay * lr
    lines = [f"decaylab.optim.make_optimizer({method!r}, params, lr={lr:g}, weight_decay={decay:.3g})"]
    if record.family == "muon":  # the method's Muon is not Muon's default
        lines[0] += f'  # Muon with adjust_lr_fn="{MATCHED}"'
    muon = f'torch.optim.Muon(matrices, lr={lr:g}, weight_decay={paper / lr:.3g}, adjust_lr_fn="{MATCHED}")'
    lion = f"timm.optim.Lion(params, lr={lr:g}, weight_decay={paper / lr:.3g}, betas=(0.9, 0.99))"
    if method in ("lionw", "lionw-torch"):  # torch has none
        return [*lines, lion + "  # the same update in timm"]
    torch_line = {
        "adamw": f"torch.optim.AdamW(params, lr={lr:g}, weight_decay={paper / lr:.3g})",
        "adamw-torch": f"torch.optim.AdamW(params, lr={lr:g}, weight_decay={paper / lr:.3g})",
        "adaml2": f"torch.optim.Adam(params, lr={lr:g}, weight_decay={decay:.3g})",
        "sgdl2": f"torch.optim.SGD(params, lr={lr:g}, momentum=0.9, weight_decay={decay:.3g})",
        "muonw": muon,
        "muonw-torch": muon,
    }.get(method)
    if torch_line is not None:
        lines.append(torch_line + "  # the same update in torch")
    return lines
