"""Run keys are a contract with every store on disk: results stored by an earlier decaylab are reused,
never trained again, as long as the task itself did not change."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from decaylab import cli
from decaylab.lab.execution import base

FROZEN = Path(__file__).parent / "frozen"
"""``frozen_task.py`` and the ``results.sqlite`` decaylab 0.2.0 stored for the two studies below."""
STUDIES = [
    ["--task", "frozen_task.py:make_task", "--methods", "adamw,sgdw", "--lrs", "1e-3,1e-2", "--wds", "0,1e-3"],
    ["--task", "ridge", "--methods", "adamw-torch", "--lrs", "1e-2", "--wds", "0,1", "--epochs", "1"],
]


def stored(database: Path) -> list[tuple]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT key, task, val_metric, finished_at FROM runs ORDER BY key").fetchall()


@pytest.mark.parametrize("study", STUDIES, ids=["a user's task file", "a built-in task"])
def test_a_store_written_by_decaylab_0_2_is_reused_without_training(tmp_path, monkeypatch, study):
    for name in ("frozen_task.py", "results.sqlite"):
        shutil.copy(FROZEN / name, tmp_path / name)
    before = stored(tmp_path / "results.sqlite")

    def no_training(*args, **kwargs):
        raise AssertionError("a run stored by decaylab 0.2 was trained again: its key changed")

    monkeypatch.setattr(base, "train_unit", no_training)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["study", *study, "--out", str(tmp_path), "--workers", "1", "--quiet"]) == 0
    assert stored(tmp_path / "results.sqlite") == before


def test_the_frozen_task_file_is_keyed_by_what_it_reaches_of_decaylab(tmp_path, monkeypatch):
    """The check above could pass by a task whose key reads nothing of decaylab: this one reads its model,
    loss and metric functions by module and name (KEYED_AS keeps their 0.2 names), so renaming one changes it."""
    from decaylab.lab.task import fingerprint
    from decaylab.lab.task.loading import load_task
    from decaylab.lab.training.trial import prepare_task

    shutil.copy(FROZEN / "frozen_task.py", tmp_path / "frozen_task.py")
    spec = str(tmp_path / "frozen_task.py") + ":make_task"
    keyed = prepare_task(spec).identity
    monkeypatch.setitem(fingerprint.KEYED_AS, "decaylab.lab.task.objectives", "decaylab.lab.elsewhere")
    load_task.cache_clear()
    assert prepare_task(spec).identity != keyed
    load_task.cache_clear()
