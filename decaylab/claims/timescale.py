"""The EMA timescale of AdamW, in epochs, is what to hold fixed (Wang & Aitchison 2025).

Paper-form AdamW averages the updates over ``τ_iter = 1/(η·λ)`` steps, ``τ_epoch = B/(N·η·λ)``
epochs. If the best ``τ_epoch`` stays constant, the best λ grows as ``1/N`` when the training set
shrinks (slope −1 of ``log λ*`` against ``log N``) and does not move when training is longer or
shorter in epochs (slope 0 against ``log T``). Loshchilov & Hutter's normalized decay,
``λ ∝ √(B/(N·T))``, predicts −0.5 for both; both slopes are reported against both. λ* is measured as
``decaylab transfer`` measures it: searched in rounds at each setting, the smaller training sets drawn
per seed, the slope fitted seed by seed with a 95% interval over the seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from decaylab.claims.base import Lab, LambdaSearch, Unmeasured, Verdict
from decaylab.claims.statistics import slope_near_verdict
from decaylab.lab.optimum import Estimate
from decaylab.lab.runs import RunConfig
from decaylab.lab.transfer.axes import Setting
from decaylab.lab.transfer.laws import Law, fit_law, moved_only

FRACTIONS = (1, 2, 4)
"""The training set, all of it, half and a quarter; and the training length likewise."""
NORMALIZED_DECAY = "L&H's normalized decay predicts −0.5"
AXES = (
    ("N", "λ* grows as 1/N when the training set shrinks (τ_epoch fixed)", -1.0),
    ("epochs", "λ* does not move with the training length in epochs (τ_epoch fixed)", 0.0),
)
"""Per axis: its name, the statement, and the slope of log λ* Wang & Aitchison predict."""


@dataclass(frozen=True)
class Measured:
    alpha: float
    base: Setting
    estimates: dict[Setting, Estimate]
    law: Law | None


class Timescale:
    name = "timescale"
    title = "The EMA timescale in epochs stays fixed: dataset size and training length"
    source = "Wang & Aitchison 2025; Loshchilov & Hutter 2019 (normalized weight decay)"
    procedure = (
        "Paper-form AdamW on the task with BatchNorm, at the best learning rate of its grid: trained on all of the "
        "training set, on half and on a quarter of it (drawn per seed, same epochs), and for the full, half and "
        "a quarter of the epochs. At each setting λ* is searched in rounds and estimated seed by seed; the slope "
        "of log λ* against log N and log T is fitted per seed, with a 95% interval from Student's t over the seeds."
    )
    position = 80

    def searches(self, lab: Lab, alpha: float) -> tuple[Setting, dict[Setting, LambdaSearch]]:
        """The base setting and the λ* search of every setting, by setting."""
        task, epochs = lab.task("bn"), lab.epochs("bn")
        base = Setting(len(task.train[0]), epochs, task.batch_size, alpha, None)
        searches = {}
        for fraction in FRACTIONS:
            examples, length = base.N // fraction, max(1, epochs // fraction)

            def drawn(seed: int, examples: int = examples) -> str:
                return lab.drawn("bn", examples, seed)

            searches[base.moved("N", examples)] = lab.search(drawn if fraction > 1 else "bn", "adamw", alpha)
            searches[base.moved("epochs", length)] = lab.search("bn", "adamw", alpha, epochs=length)
        return base, searches

    def runs(self, lab: Lab) -> list[RunConfig]:
        best = lab.best_cell("bn", "adamw")
        if best is None:
            return lab.grid("bn", "adamw")
        return [run for one in self.searches(lab, best.lr)[1].values() for run in one.runs]

    def measure(self, lab: Lab) -> Measured | Unmeasured:
        best = lab.best_cell("bn", "adamw")
        if best is None:
            return Unmeasured("the best τ_epoch stays fixed", "paper AdamW's grid has no finished cell")
        base, searches = self.searches(lab, best.lr)
        estimates = {setting: e for setting, one in searches.items() if (e := one.estimate()) is not None}
        return Measured(
            best.lr, base, estimates, fit_law(base, [a for a, _, _ in AXES], estimates, range(lab.plan.seeds))
        )

    def judge(self, measured: Measured) -> tuple[list[Verdict], list[str]]:
        verdicts = []
        for axis, claim, expected in AXES:
            slope = measured.law.exponent(axis) if measured.law else None
            interior = sum(e.interior for s, e in measured.estimates.items() if moved_only(measured.base, s, axis))
            statement = f"{claim}: slope of log λ* on log {'T' if axis == 'epochs' else axis} is {expected:g}"
            centre, low, high = (slope.centre, slope.low, slope.high) if slope else (math.nan,) * 3
            verdicts.append(slope_near_verdict(statement, expected, centre, low, high, interior, NORMALIZED_DECAY))
        return verdicts, [f"τ_epoch = B/(N·λ*) at the full set: {_tau(measured)}"]

    def draw(self, measured: Measured, figures: Path) -> list[str]:
        figure, panels = plt.subplots(1, 2, figsize=(10, 3.8))
        for panel, (axis, _, _) in zip(panels, AXES, strict=True):
            shown = {
                s.value(axis): e
                for s, e in measured.estimates.items()
                if e.interior and moved_only(measured.base, s, axis)
            }
            xs = sorted(shown)
            errors = [
                [shown[x].log_lambda - shown[x].low for x in xs],
                [shown[x].high - shown[x].log_lambda for x in xs],
            ]
            panel.errorbar(xs, [shown[x].log_lambda for x in xs], yerr=errors, fmt="o-", capsize=3, label="measured λ*")
            if xs:
                x0, d0 = xs[-1], shown[xs[-1]].log_lambda
                for slope, style in ((-1.0, ":"), (-0.5, "--"), (0.0, "-.")):
                    panel.plot(
                        xs, [d0 + slope * math.log10(x / x0) for x in xs], style, color="0.5", label=f"slope {slope:g}"
                    )
            title = f"best λ against {axis} at α = {measured.alpha:g}"
            panel.set(
                xscale="log",
                xlabel="training examples N" if axis == "N" else "epochs T",
                ylabel="log10 λ* (paper AdamW)",
                title=title,
            )
            panel.set_xticks(xs, [f"{x:g}" for x in xs], minor=False)
            panel.xaxis.set_minor_formatter(NullFormatter())
            panel.legend(fontsize=7)
            panel.grid(alpha=0.3)
        figure.savefig(figures / "timescale.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return ["timescale.png"]


def _tau(measured: Measured) -> str:
    full = measured.estimates.get(measured.base)
    if full is None or not full.interior:
        return "no interior λ*"
    decay = 10**full.log_lambda
    return f"{measured.base.batch / (measured.base.N * decay):.2f} epochs (λ* = {decay:.2g})"


CLAIM = Timescale()
