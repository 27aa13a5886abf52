"""A study's trained members: which weights ``--keep`` keeps, a kept member loaded into ``make_model()``,
and a stored run trained again in a plain PyTorch loop to check its numbers.

Weights live in ``OUT/weights/KEY.pt``, each the ordinary ``state_dict`` of one ``make_model()``::

    model = decaylab.load_member("runs/mnist1d-cnn-bn", method="adamw", lr=1e-2, weight_decay=1e-3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from decaylab.analysis.cells import method_grids
from decaylab.lab.errors import UsageError
from decaylab.lab.runs import RunConfig, weights_path
from decaylab.lab.store import ResultStore
from decaylab.lab.study import WEIGHTS, Chooser, file_hash
from decaylab.lab.task.contract import Task
from decaylab.lab.training.loop import on_one_thread
from decaylab.lab.training.plain import plain_run
from decaylab.lab.training.stacking import eager
from decaylab.lab.training.trial import prepare_task

TOLERANCE = 1e-3
"""A run reproduces when its final training loss and its test loss lie within this relative difference
of the stored ones, and it finished as many epochs. The arithmetic is float32 in another order (the
stacked model batches the members' matrix products), and Adam amplifies rounding where a gradient is
zero in exact arithmetic: a bias just before a BatchNorm moves by a fraction of α every step on rounding
noise alone, and the eval-mode running mean lags it. So held-out losses may differ by a few 1e-4, and a
metric that counts examples by one example, where rounding tips a near-tie (measured on the tiny
BatchNorm task of the tests: train losses within 4e-8, test losses within 2e-6, one test example of 400
flipped). Metrics and every epoch's numbers are shown beside the judged ones."""


def best_cells(store: ResultStore, planned: Sequence[RunConfig]) -> list[RunConfig]:
    """Every finished seed of each method's best cell, chosen on the held-out metric as the report does."""
    rows = store.runs([run.key for run in planned])
    methods = list(dict.fromkeys(run.method for run in planned))
    chosen = {
        (best.method, best.lr, best.weight_decay) for grid in method_grids(rows, methods) if (best := grid.best())
    }
    done = {row["key"] for row in rows if row["status"] == "done"}
    return [run for run in planned if (run.method, run.lr, run.weight_decay) in chosen and run.key in done]


def every_run(store: ResultStore, planned: Sequence[RunConfig]) -> list[RunConfig]:
    """Every run that finished, unstable ones included (a diverged one has no weights worth keeping)."""
    done = {row["key"] for row in store.runs([run.key for run in planned]) if row["status"] != "diverged"}
    return [run for run in planned if run.key in done]


KEEP: dict[str, Chooser | None] = {"none": None, "best": best_cells, "all": every_run}
"""``decaylab study --keep``'s choices."""


def kept(out: Path, **where: Any) -> list[dict[str, Any]]:
    """The stored runs of ``out`` whose weights are kept (``weights``: the file), those matching ``where``
    (``method``, ``lr``, ``weight_decay``, ``seed``; numbers to float precision)."""
    store = open_store(out)
    try:
        rows, hashes = store.runs(), store.weights_hashes()
    finally:
        store.close()
    found = []
    for row in rows:
        path = weights_path(out / WEIGHTS, row["key"])
        if path.exists() and all(matches(row[name], value) for name, value in where.items() if value is not None):
            check_weights(path, hashes.get(row["key"]))
            found.append({**row, "weights": str(path)})
    return found


def check_weights(path: Path, recorded: str | None) -> None:
    """``path`` is the file kept for its run: its SHA-256 is the one the store recorded when it was kept (a store
    from before the record has none to check)."""
    if recorded is not None and file_hash(path) != recorded:
        raise UsageError(
            f"{path} is not the file kept for run {path.stem} (its SHA-256 is not the one recorded then): it was "
            "replaced or damaged; delete it and run the study again with --keep to train its weights again"
        )


def matches(stored: Any, given: Any) -> bool:
    if isinstance(given, float):
        return math.isclose(stored, given, rel_tol=1e-9)
    return bool(stored == given)


def load_member(
    out: str | Path,
    key: str | None = None,
    *,
    method: str | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    seed: int | None = None,
    task: Task | None = None,
) -> nn.Module:
    """A kept member as an ordinary module in eval mode: ``make_model()`` with its trained weights.

    Name the run by its ``key``, or by ``method``, ``lr``, ``weight_decay`` (and ``seed`` where a cell has
    several). ``task`` is needed for a study whose task was built in Python; otherwise the study's own
    task is loaded.
    """
    out = Path(out)
    where = {"key": key, "method": method, "lr": lr, "weight_decay": weight_decay, "seed": seed}
    found = kept(out, **where)
    if len(found) != 1:
        asked = ", ".join(f"{name}={value}" for name, value in where.items() if value is not None) or "nothing"
        if not found:
            raise UsageError(f"no kept weights in {out} for {asked}; `decaylab weights {out}` lists them")
        raise UsageError(f"{len(found)} kept members in {out} match {asked}; name one by key or add --seed")
    row = found[0]
    model = task_of(out, row, task).make_model()
    try:
        state = torch.load(row["weights"], weights_only=True)
    except Exception as error:  # a damaged file of a store from before the hashes: torch's error names no file
        raise UsageError(f"cannot read {row['weights']} ({type(error).__name__}): a damaged weights file") from None
    eager(model).load_state_dict(state)  # a compiled one shares them
    return model.eval()


def task_of(out: Path, row: dict[str, Any], given: Task | None) -> Task:
    """The task run ``row`` was trained on: ``given``, or the study's recorded spec, checked to be unchanged."""
    store = open_store(out)
    try:
        study = store.latest_study() or {}
    finally:
        store.close()
    if given is None:
        spec = study.get("task_spec")
        if not study:
            raise UsageError(
                f"{out} records no study (a transfer's or the claims' folder); reproduce runs of a study, or from "
                "Python pass the task: decaylab.reproduce(out, key, task=...)"
            )
        if not spec:
            raise UsageError(f"the study in {out} was built from a Task in Python; pass it as task=")
        given = spec
    task = prepare_task(given)
    if task.identity != row["task"]:
        raise UsageError(
            f"the task's code or data changed since run {row['key']} was trained; its numbers cannot match"
        )
    return task


CURVE_NUMBERS = ("train loss", "held-out loss", "held-out metric")
JUDGED = ("final train loss", "epochs finished", "test loss")


@dataclass(frozen=True)
class Reproduction:
    """A stored run and the same run trained again in a plain loop, number by number."""

    key: str
    compared: list[tuple[str, float, float]]
    """``(what, stored, reproduced)``: every epoch's numbers, then the judged ones (:data:`JUDGED`)."""

    @property
    def largest_difference(self) -> float:
        """The largest relative difference of the judged numbers (0 when both are NaN: diverged both times)."""
        return max((relative(stored, again) for what, stored, again in self.compared if what in JUDGED), default=0.0)

    @property
    def matches(self) -> bool:
        return self.largest_difference <= TOLERANCE


def relative(stored: float, again: float) -> float:
    if math.isnan(stored) and math.isnan(again):
        return 0.0
    return abs(stored - again) / max(abs(stored), 1e-12)


def reproduce(out: str | Path, key: str, task: Task | None = None) -> Reproduction:
    """Train stored run ``key`` again, alone, in a plain PyTorch loop
    (:mod:`decaylab.lab.training.plain`), and set its numbers beside the stored ones."""
    out = Path(out)
    store = open_store(out)
    try:
        rows = store.runs([key])
        if not rows:
            raise UsageError(f"no run {key!r} in {out}; `decaylab export {out}` lists the keys")
        row, config, curves = rows[0], store.configs([key])[key], store.curves(key)
    finally:
        store.close()
    run = RunConfig(**{**config, "betas": tuple(config["betas"]), "probes": tuple(config["probes"])})
    with on_one_thread():  # as its unit trained it: the threads split float32 sums
        again = plain_run(task_of(out, row, task), run)
    compared = [
        (f"epoch {epoch} {what}", stored, reproduced)
        for (epoch, *stored_epoch), reproduced_epoch in zip(curves, again.curves, strict=False)
        for what, stored, reproduced in zip(
            ("train loss", "held-out loss", "held-out metric"), stored_epoch, reproduced_epoch, strict=True
        )
    ]
    if len(again.curves) != len(curves):
        compared.append(("epochs finished", float(len(curves)), float(len(again.curves))))
    elif curves:
        compared.append(("final train loss", curves[-1][1], again.curves[-1][0]))
    for what, reproduced in zip(("test loss", "test metric"), again.test, strict=True):
        stored = row[what.replace(" ", "_")]
        compared.append((what, math.nan if stored is None else stored, reproduced))
    return Reproduction(key, compared)


def open_store(out: Path) -> ResultStore:
    if not (out / "results.sqlite").exists():
        raise UsageError(f"no results in {out}")
    return ResultStore(out, read_only=True)
