"""Planning a study: its grid, the task's own settings, and units fixed by the grid alone."""

import pytest

from decaylab.lab.errors import UsageError
from decaylab.lab.runs import RunConfig
from decaylab.lab.study import StudySpec, split_into_units
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
