"""Planning a study: its grid, the task's own settings, and units fixed by the grid alone, also when resumed."""

import hashlib
import json
from dataclasses import asdict, replace

import pytest

from decaylab.lab.errors import UsageError
from decaylab.lab.execution import LocalExecutor
from decaylab.lab.practice import Practice
from decaylab.lab.rounds import Planned, job_of, run_config, run_configs, split_into_units
from decaylab.lab.runs import RunConfig
from decaylab.lab.store import ResultStore
from decaylab.lab.study import StudySpec
from decaylab.optim import METHODS

from .tiny_task import make_task


def test_a_study_plans_every_grid_point_with_the_tasks_settings():
    task = make_task()
    runs = StudySpec("tiny", ("adam", "adamw"), (1e-3, 1e-2), seeds=2).runs(task)
    assert len(runs) == (1 + len(METHODS["adamw"].default_weight_decays)) * 2 * 2  # Adam has one λ (0)
    assert {r.batch_size for r in runs} == {task.batch_size} and {r.epochs for r in runs} == {task.epochs}
    assert {(r.betas, r.eps, r.clip, r.schedule) for r in runs} == {(task.betas, task.eps, task.clip, "cosine")}
    assert len({r.key for r in runs}) == len(runs)
    overridden = StudySpec("tiny", ("adamw",), epochs=7, schedule="wsd", warmup=0.1).runs(task)
    assert {(r.epochs, r.schedule, r.warmup) for r in overridden} == {(7, "wsd", 0.1)}


def test_repeated_values_and_negative_zero_plan_one_run():
    task = make_task()
    spec = StudySpec("tiny", ("adamw", "adamw"), (1e-3, 1e-3, 1e-2), (0.0, -0.0, 1e-3), seeds=1)
    runs = spec.runs(task)
    assert spec.methods == ("adamw",) and spec.lrs == (1e-3, 1e-2) and spec.weight_decays == (0.0, 1e-3)
    assert len(runs) == 4 and len({r.key for r in runs}) == 4
    zero = StudySpec("tiny", ("adamw",), (1e-3,), (-0.0,), seeds=1).runs(task)[0]
    assert zero.key == runs[0].key and str(zero.weight_decay) == "0.0"


def test_a_method_that_ignores_weight_decay_gets_one_row_whatever_the_grid():
    runs = StudySpec("tiny", ("adam",), (1e-3,), (1e-4, 1e-2), seeds=1).runs(make_task())
    assert [r.weight_decay for r in runs] == [0.0]


@pytest.mark.parametrize(
    ("options", "words"),
    [({"methods": ("sgdx",)}, "sgdx"), ({"lrs": (0.0,)}, "--lrs"), ({"weight_decays": (-1.0,)}, "--wds"),
     ({"epochs": 0}, "--epochs"), ({"schedule": "step"}, "step"), ({"warmup": 1.0}, "--warmup")],
)  # fmt: skip
def test_a_bad_specification_names_what_to_fix(options, words):
    with pytest.raises(UsageError, match=words):
        StudySpec("tiny", **options)


def grid(methods=("adam", "adamw"), seeds=(0, 1), lrs=(1, 2, 3), decays=(0, 1)):
    return [RunConfig("t", m, lr, d, s, 3) for m in methods for s in seeds for lr in lrs for d in decays]


def test_units_share_everything_but_lr_and_decay_and_come_largest_first():
    runs = grid()
    units = split_into_units(runs[6:] + runs[:2], members_per_unit=64)
    assert [len(u) for u in units] == sorted((len(u) for u in units), reverse=True)
    assert sorted(r.key for u in units for r in u) == sorted(r.key for r in runs[6:] + runs[:2])
    for unit in units:
        assert len({r.unit for r in unit}) == 1


def test_a_group_larger_than_a_unit_is_cut_into_equal_pieces():
    runs = grid(methods=("adamw",), seeds=(0,), lrs=(1, 2, 3, 4, 5), decays=(0, 1, 2))
    assert [len(u) for u in split_into_units(runs, members_per_unit=6)] == [5, 5, 5]
    assert [len(u) for u in split_into_units(runs, members_per_unit=64)] == [15]


def test_a_study_runs_from_python_on_a_task_object_and_resumes(tmp_path, monkeypatch):
    import decaylab
    from decaylab.lab.execution import base

    def records(rows):
        return rows.to_dict("records") if hasattr(rows, "to_dict") else rows  # a DataFrame with pandas

    task = make_task()
    arguments = {"methods": ["adamw"], "lrs": [1e-2, 3e-2], "wds": [0.0, 1e-3], "out": tmp_path, "progress": False}
    rows = records(decaylab.study(task, **arguments))
    assert len(rows) == 4 and {row["status"] for row in rows} == {"done"} and rows[0]["metric"] == "accuracy"
    assert rows[0]["task"].startswith(task.name + "@")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(base, "train_unit", no_training)
    again = records(decaylab.study(make_task(), **{**arguments, "wds": [0.0]}))  # a new, equal task object
    assert sorted(row["key"] for row in again) == sorted(row["key"] for row in rows if row["weight_decay"] == 0)


def test_a_task_object_with_lambdas_reaches_worker_processes_and_gives_the_same_numbers(tmp_path):
    import decaylab

    def records(rows):
        return sorted(rows.to_dict("records") if hasattr(rows, "to_dict") else rows, key=lambda row: row["key"])

    arguments = {"methods": ["adamw", "adaml2"], "lrs": [1e-2], "wds": [0.0, 1e-3], "progress": False}
    in_process = records(decaylab.study(make_task(), out=tmp_path / "one", **arguments))
    two_workers = records(decaylab.study(make_task(), out=tmp_path / "two", workers=2, **arguments))
    assert [(r["key"], r["val_metric"], r["test_loss"]) for r in in_process] == [
        (r["key"], r["val_metric"], r["test_loss"]) for r in two_workers
    ]


def test_each_method_gets_its_own_default_grids_in_its_own_units():
    runs = StudySpec("tiny", ("adamw", "sgdw"), seeds=1).runs(make_task())
    for method in ("adamw", "sgdw"):
        planned = [r for r in runs if r.method == method]
        assert {r.lr for r in planned} == set(METHODS[method].default_lrs)
        assert {r.weight_decay for r in planned} == set(METHODS[method].default_weight_decays)
    assert max(r.lr for r in runs if r.method == "sgdw") > max(r.lr for r in runs if r.method == "adamw")


class StoppedAfter(LocalExecutor):
    """Trains in this process and records each unit's runs; interrupted after ``units`` units (None: never)."""

    def __init__(self, units=None):
        super().__init__(workers=1)
        self.units, self.trained = units, []

    def run(self, work, on_epoch):
        for index, finished in super().run(work, on_epoch):
            self.trained.append([run.key for run in work[index][1]])
            yield index, finished
            if self.units is not None and len(self.trained) == self.units:
                raise KeyboardInterrupt


def test_an_interrupted_round_is_finished_with_its_own_units_before_the_runs_that_came_after_it(tmp_path):
    """Resumed, a λ* search asks for its next point beside the rest of the round it was in: the rest is trained
    first in the units it was cut into (a member of a stack of another size rounds differently), then the new."""
    task = make_task()
    part = Planned(task, job_of(task, task, None, tmp_path), [])
    first_round = [run_config(task, "adamw", 1e-2, d, seed) for seed in (0, 1) for d in (1e-4, 1e-3, 1e-2)]
    next_point = run_config(task, "adamw", 1e-2, 1e-1, 1)  # would join seed 1's unit if cut afresh
    with pytest.raises(KeyboardInterrupt):
        run_configs([replace(part, runs=first_round)], ResultStore(tmp_path / "killed"), StoppedAfter(1), False)
    store, resumed = ResultStore(tmp_path / "killed"), StoppedAfter()
    assert not run_configs([replace(part, runs=[*first_round, next_point])], store, resumed, False)
    (unfinished,) = resumed.trained
    assert len(unfinished) == 3 and next_point.key not in unfinished
    assert run_configs([replace(part, runs=[*first_round, next_point])], store, resumed, False)
    assert resumed.trained[1] == [next_point.key]

    clean = ResultStore(tmp_path / "clean")
    run_configs([replace(part, runs=first_round)], clean, LocalExecutor(workers=1), False)
    run_configs([replace(part, runs=[*first_round, next_point])], clean, LocalExecutor(workers=1), False)
    measured = ("train_loss", "val_loss", "val_metric", "test_loss", "test_metric")
    assert [[row[c] for c in measured] for row in store.runs()] == [[row[c] for c in measured] for row in clean.runs()]


def test_a_lion_method_runs_with_lions_own_betas_and_its_own_grid_of_alpha():
    task = make_task()
    runs = StudySpec("tiny", ("lionw", "adamw"), seeds=1).runs(task)
    lion = [run for run in runs if run.method == "lionw"]
    assert {run.betas for run in lion} == {(0.9, 0.99)} and task.betas == (0.9, 0.999)
    assert {run.betas for run in runs if run.method == "adamw"} == {task.betas}
    assert max(run.lr for run in lion) < max(run.lr for run in runs if run.method == "adamw")  # signs step further


def test_a_run_at_the_usual_practice_keeps_the_key_it_had_before_the_practice_fields_existed():
    """Stores made before ``decayed``, ``decay_schedule``, the Adam half's α and λ and ``ns_dtype`` hold runs under
    the hash of the other fields: those runs are found again, not trained again; a run away from the defaults is
    another run."""
    run = StudySpec("tiny", ("muonw",), (1e-2,), (1e-3,)).runs(make_task())[0]
    before = {name: value for name, value in asdict(run).items() if name not in Practice.__dataclass_fields__}
    assert run.key == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:24]
    assert replace(run, ns_dtype="float32").key != run.key
    practice = Practice("matrices-no-embeddings", "linear", 1e-3, 0.0)
    other = StudySpec("tiny", ("muonw", "adamw"), (1e-2,), (1e-3,), practice=practice).runs(make_task())
    assert other[0].key != run.key and other[0].unit != run.unit
    assert (other[0].adam_lr, other[0].adam_weight_decay, other[1].adam_lr) == (1e-3, 0.0, None)  # Muon's only
    assert all(r.decayed == "matrices-no-embeddings" and r.decay_schedule == "linear" for r in other)


@pytest.mark.parametrize(
    ("fields", "words"),
    [({"decayed": "biases"}, "--decayed"), ({"decay_schedule": "step"}, "--decay-schedule"),
     ({"adam_lr": 0.0}, "--adam-lr"), ({"adam_weight_decay": float("nan")}, "--adam-wd"),
     ({"ns_dtype": "float16"}, "--ns-dtype")],
)  # fmt: skip
def test_a_bad_practice_names_its_option(fields, words):
    with pytest.raises(UsageError, match=words):
        Practice(**fields)
