"""Faults tried on purpose: killed drivers leave no workers, unreachable clusters fail fast, resumed units
end exactly where an uninterrupted one would, read-only results stay readable, bad paths are one line."""

import contextlib
import csv
import hashlib
import io
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from .test_cli import SMALL, TINY, assert_one_line_error, run_cli, stored_runs

SLOW = str(Path(__file__).parents[1] / "lab" / "slow_task.py") + ":make_task"
CLI = [sys.executable, "-m", "decaylab.cli"]


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, seconds: float, every: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    return None


def test_workers_die_with_their_killed_driver(tmp_path):
    argv = [*CLI, "study", "--task", SLOW, "--methods", "adamw,adaml2", "--lrs", "1e-3", "--wds", "0",
            "--seeds", "1", "--workers", "2", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers = wait_for(lambda: (found := children(driver.pid)) and len(found) >= 3 and found, 120)
        assert workers, "the study never started its two workers"
        time.sleep(1.0)  # the workers are training
    finally:
        driver.kill()
        driver.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in workers), 10), "workers outlived their driver"


@pytest.mark.parametrize("address", ["127.0.0.1:1", "no-such-host.invalid:6379"])
def test_an_unreachable_ray_cluster_is_one_line_within_a_minute(tmp_path, address):
    started = time.monotonic()
    finished = subprocess.run(
        [*CLI, "study", *SMALL, "--executor", "ray", "--address", address, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert_one_line_error(finished.returncode, finished.stderr, "cannot reach the Ray cluster", address)


def test_an_address_where_something_else_listens_is_one_line_without_rays_own_warnings(tmp_path):
    pytest.importorskip("ray")
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts connections, never speaks Ray
        address = f"127.0.0.1:{server.getsockname()[1]}"
        finished = subprocess.run(
            [*CLI, "study", *SMALL, "--executor", "ray", "--address", address, "--connect-timeout", "5",
             "--out", str(tmp_path / "out")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert_one_line_error(finished.returncode, finished.stderr, "cannot join the Ray cluster", address)


def test_a_unit_killed_mid_way_resumes_from_its_last_epoch_with_the_same_numbers(tmp_path):
    """kill -9 during a 12-epoch unit, then the same command: faster than starting over, and equal."""
    grid = ["--task", SLOW, "--methods", "adamw", "--lrs", "1e-3,3e-3", "--wds", "0,1e-3", "--seeds", "1",
            "--workers", "1", "--quiet"]  # fmt: skip
    started = time.monotonic()
    subprocess.run([*CLI, "study", *grid, "--out", str(tmp_path / "whole")], check=True, capture_output=True)
    uninterrupted = time.monotonic() - started

    out = tmp_path / "killed"
    driver = subprocess.Popen([*CLI, "study", *grid, "--out", str(out)], stderr=subprocess.DEVNULL)
    checkpoint = wait_for(lambda: next((out / "checkpoints").glob("*.pt"), None), 120)
    assert checkpoint is not None, "no epoch checkpoint was written"
    import torch

    def epoch_of_checkpoint():
        try:
            return torch.load(checkpoint, weights_only=True)["epoch"]
        except Exception:
            return 0

    assert wait_for(lambda: epoch_of_checkpoint() >= 8, 120, every=0.2), "training did not reach epoch 8"
    driver.kill()
    driver.wait()
    assert stored_runs(out / "results.sqlite") == {}

    started = time.monotonic()
    subprocess.run([*CLI, "study", *grid, "--out", str(out)], check=True, capture_output=True)
    rerun = time.monotonic() - started
    print(f"resumed in {rerun:.1f} s against {uninterrupted:.1f} s uninterrupted ({rerun / uninterrupted:.0%})")
    assert rerun < 0.6 * uninterrupted, (rerun, uninterrupted)
    assert exported(out) == exported(tmp_path / "whole")
    assert not list((out / "checkpoints").glob("*.pt")), "a finished unit's checkpoint was left behind"


def exported(out: Path) -> list[dict]:
    rows = subprocess.run([*CLI, "export", str(out)], capture_output=True, text=True, check=True).stdout
    return sorted((row for row in csv.DictReader(io.StringIO(rows))), key=lambda row: row["key"])


def test_negative_zero_and_repeated_values_are_one_run(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adamw,adamw", "--lrs", "1e-2,1e-2", "--wds=0,-0",
            "--seeds", "1", "--epochs", "1", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    assert len(stored_runs(out / "results.sqlite")) == 1
    again = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds=-0", "--seeds", "1",
             "--epochs", "1", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    before = stored_runs(out / "results.sqlite")
    assert run_cli(capsys, *again)[0] == 0 and stored_runs(out / "results.sqlite") == before


def test_bad_paths_and_numbers_are_one_line(capsys, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (["study", *SMALL, "--out", str(a_file)], ["is a file"]),
        (["study", *SMALL, "--out", str(a_file / "under")], ["cannot use", "as the results directory"]),
        (["study", *SMALL, "--out", "/proc/decaylab"], ["cannot use", "/proc/decaylab"]),
        (["study", *SMALL, "--out", ""], ["--out", "empty"]),
        (["study", *SMALL, "--data-dir", str(a_file), "--out", str(tmp_path / "o")], ["--data-dir", "is a file"]),
        (["study", *SMALL, "--executor", "ray", "--gpus-per-task=nan"], ["--gpus-per-task"]),
        (["study", *SMALL, "--executor", "ray", "--connect-timeout", "0"], ["--connect-timeout"]),
        (["report", str(tmp_path / "nothing")], ["no results"]),
    ]
    for argv, words in cases:
        assert_one_line_error(*run_cli(capsys, *argv)[::2], *words)


def test_a_report_of_a_store_without_finished_runs_is_one_line(capsys, tmp_path):
    from decaylab.lab.store import ResultStore

    store = ResultStore(tmp_path)
    store.record_study({"task": "t", "task_identity": "t@1", "epochs": 1, "schedule": "cosine", "warmup": 0.0,
                        "methods": ["adamw"], "lrs": [1e-3], "weight_decays": None, "seeds": 1})  # fmt: skip
    store.close()
    assert_one_line_error(*run_cli(capsys, "report", str(tmp_path))[::2], "no finished run")


def without_privileges(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` so that file permissions apply: as we are, or, for root (whom permissions do not stop),
    in a user namespace where we are an ordinary owner without capabilities."""
    if os.geteuid() == 0:
        if subprocess.run(["unshare", "--user", "--map-user=1000", "true"], capture_output=True).returncode:
            pytest.skip("running as root without user namespaces: permissions cannot be made to apply")
        argv = ["unshare", "--user", "--map-user=1000", "--map-group=1000", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_read_only_results_can_be_exported_and_reported_and_are_never_modified(capsys, tmp_path):
    out = tmp_path / "results"
    assert run_cli(capsys, "study", *SMALL, "--out", str(out), "--quiet", "--workers", "1")[0] == 0
    database = out / "results.sqlite"
    for path in out.iterdir():
        path.chmod(0o444)
    out.chmod(0o555)
    try:
        digest, mtime = hashlib.sha256(database.read_bytes()).hexdigest(), database.stat().st_mtime_ns
        export = without_privileges([*CLI, "export", str(out)])
        assert export.returncode == 0, export.stderr
        assert len(list(csv.DictReader(io.StringIO(export.stdout)))) == 16
        in_place = without_privileges([*CLI, "report", str(out)])
        assert_one_line_error(in_place.returncode, in_place.stderr, "cannot write the report", "--to")
        report = without_privileges([*CLI, "report", str(out), "--to", str(tmp_path / "report")])
        assert report.returncode == 0, report.stderr
        assert (tmp_path / "report" / "report.md").exists() and (tmp_path / "report" / "heatmaps.png").exists()
        study = without_privileges([*CLI, "study", *SMALL, "--out", str(out), "--quiet", "--workers", "1"])
        assert_one_line_error(study.returncode, study.stderr)
        assert hashlib.sha256(database.read_bytes()).hexdigest() == digest and database.stat().st_mtime_ns == mtime
    finally:
        out.chmod(0o755)


@pytest.fixture
def every_update(monkeypatch):
    """The study's progress bar draws every update, however fast the epochs."""
    from tqdm import tqdm

    from decaylab.lab import rounds

    class EveryUpdate(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "mininterval": 0, "miniters": 0})

    monkeypatch.setattr(rounds, "tqdm", EveryUpdate)


def progress_study(tmp_path, epochs):
    return ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0,1e-3", "--seeds", "1",
            "--epochs", str(epochs), "--out", str(tmp_path / "out"), "--workers", "1"]  # fmt: skip


def test_progress_moves_with_every_epoch_not_only_when_a_unit_ends(capsys, tmp_path, every_update):
    status, _, err = run_cli(capsys, *progress_study(tmp_path, 4))
    assert status == 0
    shown = [part.split(" runs")[0].split()[-1] for part in err.split("\r") if " runs [" in part]
    assert "0.5/2" in shown and "1.0/2" in shown and "1.5/2" in shown and shown[-1] == "2.0/2", shown


def test_the_progress_bar_never_passes_its_total(capsys, tmp_path, every_update):
    """Nine steps of 2/9 run add up to 2.0000000000000004 in floating point: tqdm warned."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        assert run_cli(capsys, *progress_study(tmp_path, 9))[0] == 0


def test_smaller_things_a_user_meets(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adam,adamw", "--lrs", "3e-2,1e-2", "--wds", "1e-4",
            "--seeds", "1", "--epochs", "1", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    report = (out / "report.md").read_text()
    assert "| adam | Adam, no weight decay | no decay | " in report and "| 1e-4 |" not in report.split("| adamw")[0]
    assert "learning rates 1e-2, 3e-2, 1 epoch," in report and "2 methods" in report and "1 seed;" in report
    assert "± nan" not in report and "one seed" in report
    assert "tiny_task-make_task" in report.splitlines()[0] and str(tmp_path) not in report.splitlines()[0]
    curves = list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out), "--curves")[1])))
    assert len(curves) == 4 and {"epoch", "val_metric"} <= set(curves[0])  # 4 runs × 1 epoch
    bigger = [*argv[:6], "3e-2,1e-2,3e-3", *argv[7:]]
    assert run_cli(capsys, *bigger)[0] == 0
    assert len(list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out))[1])))) == 6
    old = run_cli(capsys, *argv)  # the first grid is the latest study again
    assert old[0] == 0
    latest = list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out), "--study", "latest")[1])))
    assert len(latest) == 4 and {row["lr"] for row in latest} == {"0.03", "0.01"}
    with sqlite3.connect(out / "results.sqlite") as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (6,)


def test_a_killed_ray_worker_resumes_its_unit_from_the_checkpoint(tmp_path, monkeypatch):
    """The chaos model kills its worker after some epochs; Ray's retry continues from the last checkpoint."""
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    monkeypatch.setenv("DECAYLAB_CHAOS_MARKER", str(tmp_path / "killed-once"))
    monkeypatch.setenv("DECAYLAB_CHAOS_DRIVER", str(os.getpid()))
    monkeypatch.setenv("DECAYLAB_CHAOS_STEPS", str(tmp_path / "steps"))
    chaos = str(Path(__file__).parents[1] / "lab" / "chaos_task.py") + ":make_epochs_task"
    argv = [*CLI, "study", "--task", chaos, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0,1e-3",
            "--seeds", "1", "--workers", "1", "--quiet"]  # fmt: skip
    subprocess.run([*argv, "--executor", "ray", "--out", str(tmp_path / "ray")], check=True, capture_output=True)
    assert (tmp_path / "killed-once").exists(), "no worker was killed: the test tested nothing"
    steps_with_a_kill = len((tmp_path / "steps").read_text().split())
    (tmp_path / "steps").unlink()
    subprocess.run([*argv, "--out", str(tmp_path / "local")], check=True, capture_output=True)
    steps_alone = len((tmp_path / "steps").read_text().split())
    assert steps_with_a_kill < 1.5 * steps_alone  # resumed, not started over (that would be ≥ 1.6×)
    assert exported(tmp_path / "ray") == exported(tmp_path / "local")


def stored_study(folder: Path, metric: str = "accuracy") -> Path:
    """A store holding one finished run (no training)."""
    from decaylab.lab.runs import RunConfig, RunResult
    from decaylab.lab.store import ResultStore
    from decaylab.lab.task.objectives import Metric

    store = ResultStore(folder)
    result = RunResult(RunConfig("=cmd|' /C calc'!A0", "adamw", 1e-2, -0.0, 0, 1), "done", [(1, -0.5, 0.9, 0.5)],
                       test=(0.9, 0.5))  # fmt: skip
    store.add([result], Metric(metric, lambda output, target: output.sum()), "validation")
    store.close()
    return folder


def test_a_full_or_closed_stdout_is_one_line_and_exit_1(tmp_path):
    out = stored_study(tmp_path / "out")
    with open("/dev/full", "w") as full:
        finished = subprocess.run([*CLI, "export", str(out)], stdout=full, stderr=subprocess.PIPE, text=True)
    assert finished.returncode == 1 and finished.stderr.count("\n") == 1, finished.stderr
    assert finished.stderr.startswith("decaylab: ") and "No space left" in finished.stderr
    closed = subprocess.run(f"{' '.join(CLI)} export {out} >&-", shell=True, stderr=subprocess.PIPE, text=True)
    assert closed.returncode == 1 and closed.stderr.count("\n") == 1, closed.stderr


def test_csv_cells_a_spreadsheet_would_run_are_escaped_and_numbers_stay_numbers(capsys, tmp_path):
    out = stored_study(tmp_path / "out", metric='=HYPERLINK("http://example.invalid","click")')
    status, printed, _ = run_cli(capsys, "export", str(out))
    (row,) = csv.DictReader(io.StringIO(printed))
    assert status == 0 and row["metric"] == '\'=HYPERLINK("http://example.invalid","click")'
    assert row["task"] == "'=cmd|' /C calc'!A0" and row["train_loss"] == "-0.5"


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_sigterm_stops_a_study_with_one_line_and_exit_143(tmp_path, executor):
    if executor == "ray":
        pytest.importorskip("ray")
    argv = [*CLI, "study", "--task", SLOW, "--methods", "adamw", "--lrs", "1e-3", "--wds", "0", "--seeds", "1",
            "--workers", "1", "--executor", executor, "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = (lambda: len(family(driver.pid)) >= 6) if executor == "ray" else (lambda: children(driver.pid) == [])
    assert wait_for(lambda: (tmp_path / "out" / "results.sqlite").exists() and started(), 120)
    assert wait_for(lambda: training(tmp_path / "out"), 120)  # past Ray's start-up, which SIGTERM aborts in C++
    driver.terminate()
    _, err = driver.communicate(timeout=60)
    ours = [line for line in err.splitlines() if not line.startswith(RAY_TOKEN_NOTICE)]  # Ray's, at its start
    assert driver.returncode == 143 and len(ours) == 1 and "run the same command again" in ours[0], err


RAY_TOKEN_NOTICE = "Token authentication is enabled for this Ray cluster"


FAILS_MID_TRAINING = """
import torch
from torch import nn
from decaylab import Task

x, y = torch.randn(57, 4), torch.randint(0, 3, (57,))


class Picky(nn.Linear):
    def forward(self, batch):
        if batch.shape[0] == 7:  # the last batch of an epoch: after the driver's check of the first
            raise ValueError("a batch of 7 examples is not allowed")
        return super().forward(batch)


def make_task():
    return Task("picky", (x, y), (x, y), lambda: Picky(4, 3), epochs=2, batch_size=25)
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_unit_that_fails_in_training_is_its_cause_in_one_line_and_exit_1(capsys, tmp_path, workers):
    (tmp_path / "picky.py").write_text(FAILS_MID_TRAINING)
    status, _, err = run_cli(capsys, "study", "--task", f"{tmp_path / 'picky.py'}:make_task", "--methods", "adamw",
                             "--lrs", "1e-2,1e-3", "--wds", "0", "--seeds", "2", "--workers", workers, "--quiet",
                             "--out", str(tmp_path / "out"))  # fmt: skip
    assert status == 1 and err.count("\n") == 1, err
    assert "a unit failed: ValueError: a batch of 7 examples is not allowed" in err


def test_a_report_of_an_all_diverged_half_finished_study_has_whole_rows_and_names_the_missing_runs(capsys, tmp_path):
    from decaylab.lab.runs import RunConfig, RunResult
    from decaylab.lab.store import ResultStore
    from decaylab.lab.task.objectives import ACCURACY

    store = ResultStore(tmp_path)
    store.record_study({"task": "t", "task_identity": "t@1", "epochs": 1, "schedule": "cosine", "warmup": 0.0,
                        "methods": ["adamw", "adaml2"], "lrs": [1e-3, 1e-2], "weight_decays": [0.0, 1e-3],
                        "seeds": 1})  # fmt: skip
    diverged = [
        RunResult(RunConfig("t@1", "adamw", lr, wd, 0, 1), "diverged") for lr in (1e-3, 1e-2) for wd in (0, 1e-3)
    ]
    store.add(diverged, ACCURACY, "validation")
    store.close()
    assert run_cli(capsys, "report", str(tmp_path))[0] == 0
    report = (tmp_path / "report.md").read_text()
    assert "4 of 8 planned runs are not stored yet" in report
    table = report[report.index("## Best cell of each method") :].split("\n\n")[2].splitlines()
    assert len({line.count("|") for line in table}) == 1, table


def test_a_local_ray_cluster_dies_with_its_killed_driver_within_10_s(tmp_path):
    pytest.importorskip("ray")
    argv = [*CLI, "study", "--task", SLOW, "--methods", "adamw,adaml2", "--lrs", "1e-3", "--wds", "0", "--seeds", "1",
            "--executor", "ray", "--workers", "2", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cluster = wait_for(lambda: len(found := family(driver.pid)) >= 6 and found, 120)  # GCS, raylet, agents, …
        assert cluster, "the study never started its Ray cluster"
        assert wait_for(lambda: training(tmp_path / "out"), 120), "no unit finished an epoch"
        cluster = family(driver.pid)
    finally:
        driver.kill()
        driver.wait()
    assert wait_for(lambda: not any(alive(pid) for pid in cluster), 10), "Ray's processes outlived their driver"


def training(out: Path) -> bool:
    """A unit has finished an epoch (its checkpoint is written): the study is past its start-up. A fixed sleep
    was not enough on a loaded machine, where Ray was still starting."""
    return any((out / "checkpoints").glob("*.pt"))


def family(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    below, todo = set(), [pid]
    while todo:
        for child in children(todo.pop()):
            if child not in below:
                below.add(child)
                todo.append(child)
    return below


def test_a_disk_that_fills_mid_study_is_one_line_and_exit_1_and_keeps_the_stored_runs(capsys, tmp_path, monkeypatch):
    """torch's writer reports a full disk as a C++ RuntimeError; it fails the unit writing its checkpoint."""
    from decaylab.lab.training import checkpoints

    save, written = checkpoints.torch.save, []

    def fills_up(state, path):
        if len(written) == 2:  # the first unit's two checkpoints fit; the disk is full after them
            Path(path).write_bytes(b"half")  # what a full disk leaves
            raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file")
        written.append(path)
        save(state, path)

    monkeypatch.setattr(checkpoints.torch, "save", fills_up)
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0", "--seeds", "2",
            "--workers", "1", "--quiet", "--out", str(out)]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    assert status == 1 and err.count("\n") == 1 and "a full or read-only disk?" in err, err
    assert not list((out / "checkpoints").glob("*.partial"))
    stored = stored_runs(out / "results.sqlite")
    assert len(stored) == 1, "the unit that finished before the disk filled is kept"
    monkeypatch.setattr(checkpoints.torch, "save", save)
    assert run_cli(capsys, *argv)[0] == 0
    assert set(stored) < set(stored_runs(out / "results.sqlite"))


@contextlib.contextmanager
def small_disk(folder: Path, size: str):
    """A tmpfs of ``size`` at ``folder`` (root only: skipped where mounting is not allowed)."""
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True).returncode:  # fmt: skip
        pytest.skip("cannot mount a small filesystem here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_one_line_and_exit_1_and_the_same_command_finishes_once_there_is_room(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        out = disk / "out"
        argv = [*CLI, "study", "--task", TINY, "--methods", "adamw,adaml2", "--lrs", "1e-3,1e-2", "--wds", "0,1e-3",
                "--seeds", "8", "--workers", "1", "--quiet", "--out", str(out)]  # fmt: skip
        (disk / "filler").write_bytes(b"\0" * 900_000)
        full = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert full.returncode == 1 and full.stderr.count("\n") == 1, full.stderr
        assert not list(out.glob("checkpoints/*.partial"))
        (disk / "filler").unlink()
        assert subprocess.run(argv, capture_output=True, text=True, timeout=300).returncode == 0
        assert len(stored_runs(out / "results.sqlite")) == 2 * 2 * 2 * 8


def test_a_store_made_immutable_mid_study_is_one_line_and_exit_1_not_a_bus_error(tmp_path):
    out = tmp_path / "out"
    argv = [*CLI, "study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-3", "--wds", "0", "--seeds", "12",
            "--epochs", "30", "--workers", "1", "--quiet", "--out", str(out)]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    files = [out / name for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm")]
    try:
        assert wait_for(lambda: len(stored_runs(out / "results.sqlite")) >= 1 and all(f.exists() for f in files), 120)
        if subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True).returncode:
            pytest.skip("chattr +i is not allowed here")
        _, err = driver.communicate(timeout=120)
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], capture_output=True)
        driver.kill()
    assert driver.returncode == 1 and err.count("\n") == 1 and "can no longer be written" in err, err


def test_export_of_the_latest_study_in_a_store_of_claims_or_transfer_runs_says_what_it_holds(capsys, tmp_path):
    out = stored_study(tmp_path / "out")  # runs, and no study's grid: what claims and transfer store
    status, _, err = run_cli(capsys, "export", str(out), "--study", "latest")
    assert_one_line_error(status, err, "holds runs but no `decaylab study` grid", f"decaylab export {out}")


def test_ctrl_c_while_a_commands_parser_imports_is_one_line_and_exit_130(capsys, monkeypatch):
    """Ctrl-C in the first second (the parser of `study` imports torch for its task list) printed an import
    traceback and exited 1."""
    from decaylab import cli
    from decaylab.cli.commands import COMMANDS, Command

    def interrupted_parser():
        raise KeyboardInterrupt

    monkeypatch.setitem(COMMANDS, "study", Command("study", interrupted_parser, COMMANDS["study"].run))
    assert cli.main(["study", "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err == "decaylab: interrupted\n", err


def test_a_study_of_a_mistyped_length_is_refused_before_its_folder_is_made(capsys, tmp_path):
    """`--epochs 99999999999999999999999` grew to 24 GB until the kernel killed it; then it was refused, but only
    once the progress bar and the store were there."""
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0", "--seeds", "1",
            "--epochs", "99999999999999999999999", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    assert_one_line_error(status, err, "give fewer epochs")
    assert not out.exists()


def test_a_python_script_calling_decaylab_at_its_top_level_is_told_to_guard_it(tmp_path):
    """Worker processes import the main script: a top-level `decaylab.study(..., workers=2)` ran again in each, and
    the error blamed memory."""
    script = tmp_path / "script.py"
    folder, out = Path(TINY.split(":")[0]).resolve().parent, tmp_path / "out"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(folder)!r})\nimport decaylab\nfrom tiny_task import make_task\n"
        "decaylab.study(make_task(), methods=['adamw'], lrs=[1e-2], wds=[0.0, 1e-3], epochs=1, seeds=2, workers=2,"
        f" out={str(out)!r}, progress=False)\n"
    )
    finished = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert finished.returncode != 0 and '__name__ == "__main__"' in finished.stderr, finished.stderr[-2000:]


@pytest.mark.parametrize("name", ["tiny\n## a fake heading", "tiny\x1b]0;window title\x07", "  "])
def test_a_task_or_metric_name_with_a_newline_or_an_escape_code_is_refused_in_one_line(capsys, tmp_path, name):
    """Such a name put a heading and a table row of its own into transfer.md, made a one-line error three
    lines, and sent a window-title sequence to the terminal."""
    file = tmp_path / "named.py"
    file.write_text(
        "import torch, decaylab\n"
        "def make_task():\n"
        "    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))\n"
        f"    return decaylab.Task({name!r}, (x, y), (x, y), lambda: torch.nn.Linear(3, 2))\n"
        "def make_metric_task():\n"
        "    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))\n"
        f"    metric = decaylab.Metric({name!r}, lambda o, t: (o.argmax(-1) == t).float().mean())\n"
        "    return decaylab.Task('named', (x, y), (x, y), lambda: torch.nn.Linear(3, 2), metric=metric)\n"
    )
    for function, what in (("make_task", "a task's name"), ("make_metric_task", "a metric's name")):
        status, _, err = run_cli(capsys, "study", "--task", f"{file}:{function}", "--out", str(tmp_path / "o"))
        assert_one_line_error(status, err, what)
        assert "\x1b" not in err and not (tmp_path / "o").exists()


def test_a_full_disk_while_the_report_is_written_is_exit_1_as_the_readme_says(capsys, tmp_path, monkeypatch):
    """It exited 2, the code for a mistake in the command, though nothing in the command was wrong."""
    import errno

    argv = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0", "--epochs", "1",
            "--out", str(tmp_path), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    status, _, err = run_cli(capsys, "report", str(tmp_path))
    assert status == 1 and "No space left on device" in err and f"decaylab report {tmp_path}" in err
    assert len(err.strip().splitlines()) == 1


def test_ctrl_c_reaching_the_workers_is_left_to_their_driver(tmp_path):
    """Ctrl-C goes to the whole process group: a worker still starting printed part of a traceback, and a
    training one died with KeyboardInterrupt. Workers ignore it; the driver stops them (and it finished here,
    as it got no Ctrl-C itself)."""
    argv = [*CLI, "study", "--task", TINY, "--methods", "adamw,adaml2", "--lrs", "1e-3", "--wds", "0",
            "--epochs", "2", "--workers", "2", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = wait_for(lambda: (found := children(driver.pid)) and len(found) >= 3 and found, 120)
    assert workers, "the study never started its two workers"
    for pid in workers:  # as they start: they import torch for seconds
        os.kill(pid, signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
