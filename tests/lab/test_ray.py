"""The Ray executor: same results as local, survives a killed worker, carries hundreds of runs.

Each test starts its own local Ray cluster (through the executor) with its temporary files
in a fresh directory, and the executor shuts it down.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from decaylab.lab.execution import LocalExecutor
from decaylab.lab.execution.ray_cluster import RayExecutor
from decaylab.lab.store import ResultStore
from decaylab.lab.study import StudySpec, run_study

HERE = Path(__file__).parent
TINY = f"{HERE / 'tiny_task.py'}:make_task"
METRICS = ("val_metric", "val_loss", "test_metric", "test_loss", "train_loss")


@pytest.fixture(autouse=True)
def ray_temp_dir(monkeypatch):
    """Ray's files in a short fresh directory (its socket paths must stay under 107 bytes)."""
    directory = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    monkeypatch.setenv("RAY_TMPDIR", directory)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def stored(out: Path) -> dict[str, dict]:
    store = ResultStore(out, read_only=True)
    try:
        return {row["key"]: row for row in store.runs()}
    finally:
        store.close()


def test_a_study_gives_the_same_numbers_on_ray_and_locally_with_any_number_of_workers(tmp_path):
    spec = StudySpec(TINY, ("adamw", "adamp"), (1e-2, 3e-2), (0.0, 1e-3), epochs=2, seeds=1)
    run_study(spec, tmp_path / "one", LocalExecutor(1), progress=False)
    run_study(spec, tmp_path / "two", LocalExecutor(2), progress=False)
    run_study(spec, tmp_path / "ray", RayExecutor(2), progress=False)
    one, two, on_ray = stored(tmp_path / "one"), stored(tmp_path / "two"), stored(tmp_path / "ray")
    assert one.keys() == two.keys() == on_ray.keys() and len(one) == 8
    for key, row in one.items():
        assert on_ray[key]["status"] == two[key]["status"] == row["status"] == "done"
        for metric in METRICS:  # bit for bit: every unit trains on one thread, units are fixed by the grid
            assert on_ray[key][metric] == two[key][metric] == row[metric], metric


def test_a_killed_ray_worker_is_retried_and_every_run_is_stored_once(tmp_path, monkeypatch):
    marker = tmp_path / "killed-once"
    monkeypatch.setenv("DECAYLAB_CHAOS_MARKER", str(marker))
    monkeypatch.setenv("DECAYLAB_CHAOS_DRIVER", str(os.getpid()))
    chaos = f"{HERE / 'chaos_task.py'}:make_task"
    spec = StudySpec(chaos, ("adamw", "adaml2"), (1e-2,), (0.0, 1e-3), epochs=1, seeds=2)
    planned = run_study(spec, tmp_path / "out", RayExecutor(2), progress=False)
    assert marker.exists(), "no worker was killed: the test did not test anything"
    rows = stored(tmp_path / "out")
    assert sorted(rows) == sorted(run.key for run in planned) and len(rows) == 2 * 2 * 2
    assert all(row["status"] == "done" for row in rows.values())


def test_a_study_of_500_runs_completes_through_ray(tmp_path):
    lrs = tuple(10 ** (-3 + k / 5) for k in range(10))
    decays = tuple([0.0] + [10 ** (-5 + k / 2) for k in range(9)])
    spec = StudySpec(TINY, ("adamw", "adaml2", "proxadam", "adamp", "adamc"), lrs, decays, epochs=1, seeds=1)
    planned = run_study(spec, tmp_path / "out", RayExecutor(2), progress=False)
    assert len(planned) == 500 and len(stored(tmp_path / "out")) == 500


def test_a_transfer_on_a_task_file_with_a_model_class_runs_on_ray(tmp_path):
    """Transfer sends task variants (a drawn training set) as objects; the file's class travels with them."""
    from decaylab.lab.transfer.measure import run_transfer

    classes = f"{HERE / 'class_task.py'}:make_task"
    result = run_transfer(classes, "adamw", tmp_path, RayExecutor(2), quick=True, progress=False)
    assert result.estimates and result.base_lr.scan
