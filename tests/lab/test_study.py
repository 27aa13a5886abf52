"""Planning a study: its grid, the task's own settings, and units that keep every worker busy."""

from decaylab.lab.study import DEFAULT_WDS, StudySpec, split_into_units
from decaylab.lab.train import RunConfig

from .tiny_task import make_task


def test_a_study_plans_every_grid_point_with_the_tasks_batch_size_and_epochs():
    task = make_task()
    runs = StudySpec("tiny", ("adam", "adamw"), (1e-3, 1e-2), seeds=2).runs(task)
    assert len(runs) == (1 + len(DEFAULT_WDS["adamw"])) * 2 * 2  # Adam has one λ (0)
    assert {r.batch_size for r in runs} == {task.batch_size} and {r.epochs for r in runs} == {task.epochs}
    assert len({r.key for r in runs}) == len(runs)
    assert {r.epochs for r in StudySpec("tiny", ("adamw",), epochs=7).runs(task)} == {7}


def test_units_share_everything_but_lr_and_decay_and_come_largest_first():
    runs = [
        RunConfig("t", m, lr, d, s, 3) for m in ("adam", "adamw") for s in (0, 1) for lr in (1, 2, 3) for d in (0, 1)
    ]
    units = split_into_units(runs[6:] + runs[:2], workers=2)
    assert [len(u) for u in units] == sorted((len(u) for u in units), reverse=True)
    assert sorted(r.key for u in units for r in u) == sorted(r.key for r in runs[6:] + runs[:2])
    for unit in units:
        assert len({r.unit for r in unit}) == 1


def test_units_are_split_when_there_are_fewer_groups_than_workers():
    runs = [RunConfig("t", "adamw", lr, d, 0, 3) for lr in (1, 2, 3, 4) for d in (0, 1, 2)]
    assert [len(u) for u in split_into_units(runs, workers=2)] == [6, 6]
    assert [len(u) for u in split_into_units(runs, workers=1)] == [12]
