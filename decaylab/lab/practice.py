"""The practitioners' choices that studies, transfers and claims can set and compare.

Which parameters λ reaches (all, matrices only, matrices without embeddings), a schedule of λ's own beside
the learning rate's (nanochat takes Muon's λ to zero), a separate α and λ for Muon's Adam half, and the type
Muon's Newton–Schulz computes in. Each is a field of :class:`~decaylab.lab.runs.RunConfig`, so runs that differ
in one are different runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decaylab.lab.errors import UsageError
from decaylab.lab.runs import DECAYED, LATER_FIELDS
from decaylab.lab.task.checks import check_adam_half_exists, check_decay_reaches_the_model
from decaylab.lab.task.contract import Task
from decaylab.optim import DECAY_SCHEDULES, METHODS
from decaylab.optim.reference import NS_DTYPES


@dataclass(frozen=True)
class Practice:
    """``decayed`` (:data:`~decaylab.lab.runs.DECAYED`), ``decay_schedule``
    (:data:`~decaylab.optim.DECAY_SCHEDULES`), Muon's Adam half's ``adam_lr`` and ``adam_weight_decay`` (None: the
    run's own α and λ), and Muon's ``ns_dtype`` (:data:`~decaylab.optim.reference.NS_DTYPES`; bfloat16 as torch)."""

    decayed: str = "task"
    decay_schedule: str = "constant"
    adam_lr: float | None = None
    adam_weight_decay: float | None = None
    ns_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if self.decayed not in DECAYED:
            raise UsageError(
                f"unknown decayed parameters {self.decayed!r} (--decayed); choose from {', '.join(DECAYED)}"
            )
        if self.decay_schedule not in DECAY_SCHEDULES:
            choices = ", ".join(DECAY_SCHEDULES)
            raise UsageError(
                f"unknown decay schedule {self.decay_schedule!r} (--decay-schedule); choose from {choices}"
            )
        if self.ns_dtype not in NS_DTYPES:
            raise UsageError(f"unknown type {self.ns_dtype!r} (--ns-dtype); choose from {', '.join(NS_DTYPES)}")
        for flag, value, positive in (("--adam-lr", self.adam_lr, True), ("--adam-wd", self.adam_weight_decay, False)):
            if value is not None and not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
                raise UsageError(f"{flag} must be a finite number {'> 0' if positive else '>= 0'}, got {value}")

    def overrides(self, method: str) -> dict[str, Any]:
        """The :class:`~decaylab.lab.runs.RunConfig` fields of ``method``'s runs that differ from the defaults;
        which parameters λ reaches and its schedule only methods that take a λ, the Adam half's α and λ and the
        Newton–Schulz type only Muon methods (the others have none: their runs stay the usual ones)."""
        decays, muon = METHODS[method].takes_weight_decay, METHODS[method].family == "muon"
        fields = {
            **({"decayed": self.decayed, "decay_schedule": self.decay_schedule} if decays else {}),
            **({"adam_lr": self.adam_lr, "adam_weight_decay": self.adam_weight_decay} if muon else {}),
            **({"ns_dtype": self.ns_dtype} if muon else {}),
        }
        return {name: value for name, value in fields.items() if value != LATER_FIELDS[name]}

    def check(self, task: Task, methods: Iterable[str], weight_decays: Iterable[float] = (1.0,)) -> None:
        """Before any training: λ reaches the model under this practice, and an Adam-half α or λ reaches a
        parameter of a Muon method's Adam half (:mod:`decaylab.lab.task.checks`)."""
        check_decay_reaches_the_model(task, weight_decays, self.decayed)
        check_adam_half_exists(task, methods, self.decayed, self.adam_lr, self.adam_weight_decay)

    def check_one_method(self, task: Task, method: str) -> None:
        """:meth:`check` for a transfer's one method, which must be a Muon method if an Adam-half α or λ is given."""
        if METHODS[method].family != "muon" and self.muon_only:
            raise UsageError(f"{self.muon_only}; {method} is not one")
        self.check(task, [method])

    def of_run(self, config: dict[str, Any]) -> bool:
        """Whether a stored run's configuration (a dict, from the store) was trained under this practice."""
        fields = LATER_FIELDS.items()
        differs = {name: config[name] for name, default in fields if config.get(name, default) != default}
        return differs == self.overrides(config["method"])

    def described(self) -> str:
        """The practice in words, for a report ("" at the defaults)."""
        parts = [f"λ reaches {DECAYED[self.decayed]}"] if self.decayed != "task" else []
        parts += [f"λ follows its own {self.decay_schedule} schedule to 0"] if self.decay_schedule != "constant" else []
        if self.adam_lr is not None or self.adam_weight_decay is not None:
            alpha = "its α" if self.adam_lr is None else f"α = {self.adam_lr:g}"
            decay = "its λ" if self.adam_weight_decay is None else f"λ = {self.adam_weight_decay:g}"
            parts.append(f"Muon's Adam half trains at {alpha}, {decay}")
        parts += [f"Muon's Newton–Schulz computes in {self.ns_dtype}"] if self.ns_dtype != "bfloat16" else []
        return "; ".join(parts)

    @property
    def muon_only(self) -> str:
        """The flags given that only Muon methods take, said so ("" if none)."""
        given = [("--adam-lr", self.adam_lr is not None), ("--adam-wd", self.adam_weight_decay is not None)]
        flags = [flag for flag, set_ in [*given, ("--ns-dtype", self.ns_dtype != "bfloat16")] if set_]
        return f"{' and '.join(flags)} {'is' if len(flags) == 1 else 'are'} for Muon methods" if flags else ""

    def notes(self, methods: tuple[str, ...]) -> list[str]:
        """What a user should know: a Muon option given to a grid with methods that have none."""
        others = [method for method in methods if METHODS[method].family != "muon"]
        if not self.muon_only or not others:
            return []
        verb = "trains" if len(others) == 1 else "train"
        return [f"{self.muon_only}; {', '.join(others)} {verb} as usual"]


AS_USUAL = Practice()
"""The defaults: λ where the task puts it, constant, and the same for Muon's Adam half as for its matrices."""
