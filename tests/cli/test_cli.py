"""The command line: bad input is one line and exit 2; a killed study resumes without loss or doubles."""

import contextlib
import csv
import fcntl
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

import decaylab
from decaylab import cli
from decaylab.lab.task.builtin import datasets

TINY = str(Path(__file__).parents[1] / "lab" / "tiny_task.py") + ":make_task"
SMALL = ["--task", TINY, "--methods", "adamw,adaml2", "--lrs", "1e-2,3e-2", "--wds", "0,1e-3", "--epochs", "2",
         "--seeds", "2"]  # fmt: skip


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, err: str, *words: str) -> None:
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("decaylab: error:"), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])


STUDY_MISTAKES = [
    (["--methods", "adamw,sgd"], ["sgd"]),
    (["--task", "imagenet"], ["imagenet"]),
    (["--task", "missing.py:make_task"], ["missing.py"]),
    (["--lrs", "1e-3,abc"], ["--lrs", "abc"]),
    (["--lrs", "1e-3,,1e-2"], ["--lrs"]),
    (["--lrs=-1e-3"], ["--lrs", "-0.001"]),
    (["--lrs", "1e-3,-1e-2"], ["--lrs", "-0.01"]),
    (["--lrs", "0"], ["--lrs"]),
    (["--wds", "0,-0.1"], ["--wds", "-0.1"]),
    (["--wds", "nan"], ["--wds"]),
    (["--epochs", "0"], ["--epochs"]),
    (["--seeds", "two"], ["--seeds"]),
    (["--schedule", "step"], ["--schedule"]),
    (["--warmup", "1.5"], ["--warmup"]),
    (["--warmup", "abc"], ["--warmup"]),
    (["--frobnicate"], ["--frobnicate"]),
    (["--decayed", "biases"], ["--decayed"]),
    (["--decay-schedule", "step"], ["--decay-schedule"]),
    (["--adam-lr", "0"], ["--adam-lr"]),
]
OTHER_MISTAKES = [
    (["study", "--executor", "slurm"], ["--executor"]),
    (["study", "--address", "ray://x:1"], ["--address"]),
    (["study", "--device", "cuda"], ["--device cuda", "no CUDA"]),
    (["study", "--device", "tpu"], ["--device"]),
    (["study", "--gpus-per-task", "0.5"], ["--gpus-per-task", "ray"]),
    (["study", "--executor", "ray", "--gpus-per-task", "-1"], ["--gpus-per-task"]),
    (["study", "--executor", "ray", "--device", "cuda"], ["no CUDA"]),
    (["export"], ["DIR"]),
    (["export", "/nonexistent/dir"], ["no results"]),
    (["report", "/nonexistent/dir"], ["no results"]),
    (["claims", "--task", "imagenet"], ["imagenet"]),
    (["claims", "--bn-task", "missing.py:make_task"], ["missing.py"]),
    (["claims", "--workers", "0"], ["--workers"]),
    (["claims", "--device", "cuda"], ["no CUDA"]),
    (["claims", "--address", "ray://x:1"], ["--address"]),
    (["claims", "--todays", "--only", "proximal"], ["--todays", "--only"]),
    (["claims", "--todays", "--practice"], ["--todays", "--practice"]),
    (["claims", "--todays-decoupling", "--todays"], ["--todays-decoupling", "--todays"]),
    (["study", "--task", TINY, "--methods", "muonw", "--adam-wd", "0.1"], ["--adam-wd", "none of its parameters"]),
]
MISTAKES = [
    *(
        (["study", *argv, "--executor", executor], words)
        for argv, words in STUDY_MISTAKES
        for executor in ("local", "ray")
    ),
    *OTHER_MISTAKES,
]


@pytest.mark.parametrize(("argv", "words"), MISTAKES)
def test_bad_input_is_one_line_and_exit_status_2(capsys, tmp_path, argv, words):
    if argv[0] in ("study", "claims"):
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert_one_line_error(*run_cli(capsys, *argv)[::2], *words)


def test_a_foreign_or_unreadable_results_file_is_refused(capsys, tmp_path):
    foreign, garbage = tmp_path / "foreign", tmp_path / "garbage"
    foreign.mkdir()
    garbage.mkdir()
    with sqlite3.connect(foreign / "results.sqlite") as db:
        db.execute("CREATE TABLE other (x)")
    (garbage / "results.sqlite").write_bytes(b"\x00garbage" * 100)
    for directory in (foreign, garbage):
        for argv in (
            ["study", *SMALL, "--out", str(directory)],
            ["study", *SMALL, "--out", str(directory), "--executor", "ray"],
            ["export", str(directory)],
        ):
            assert_one_line_error(*run_cli(capsys, *argv)[::2], "results.sqlite")


def test_cifar10_missing_without_network_and_corrupt_are_clear_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "cifar-10-python.tar.gz").write_bytes(b"truncated")
    for executor in ("local", "ray"):
        argv = ["study", "--task", "cifar10-resnet20", "--out", str(tmp_path / "out"), "--executor", executor]
        assert_one_line_error(*run_cli(capsys, *argv, "--data-dir", str(tmp_path / "empty"))[::2], "download failed")
        assert_one_line_error(*run_cli(capsys, *argv, "--data-dir", str(tmp_path / "bad"))[::2], "corrupt")


def test_a_second_study_on_the_same_directory_is_refused_while_one_runs(capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with (out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        for executor in ("local", "ray"):
            argv = ["study", *SMALL, "--out", str(out), "--executor", executor]
            assert_one_line_error(*run_cli(capsys, *argv)[::2], "another decaylab run", "is using")


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_running_a_finished_study_again_trains_nothing(capsys, tmp_path, monkeypatch, executor):
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    argv = ["study", *SMALL, "--out", str(tmp_path / "out"), "--quiet", "--workers", "2", "--executor", executor]
    assert run_cli(capsys, *argv)[0] == 0
    stored = stored_runs(tmp_path / "out" / "results.sqlite")
    assert run_cli(capsys, *argv)[0] == 0
    assert stored_runs(tmp_path / "out" / "results.sqlite") == stored and len(stored) == 16


def test_study_export_and_report_round_trip(capsys, tmp_path):
    out = tmp_path / "out"
    status, stdout, _ = run_cli(capsys, "study", *SMALL, "--out", str(out), "--quiet", "--workers", "1")
    assert status == 0 and "report.md" in stdout
    for name in ("report.md", "heatmaps.png", "curves.png"):
        assert (out / name).stat().st_size > 0
    status, stdout, _ = run_cli(capsys, "export", str(out))
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert status == 0 and len(rows) == 2 * 2 * 2 * 2  # methods × lrs × wds × seeds
    required = {"method", "lr", "weight_decay", "seed", "status", "test_acc", "test_loss", "train_loss", "metric",
                "test_metric", "val_metric", "batch_size", "betas", "eps", "momentum", "loss_scale"}  # fmt: skip
    assert required <= set(rows[0])
    units = {"adamw": "paper", "adaml2": "penalty"}  # what λ is, row by row
    assert all(row["weight_decay_units"] == units[row["method"]] and row["higher_is_better"] == "True" for row in rows)
    status, stdout, _ = run_cli(capsys, "export", str(out), "--curves")
    curves = list(csv.DictReader(io.StringIO(stdout)))
    assert {"task", "status", "metric", "higher_is_better", "weight_decay_units"} <= set(curves[0])
    status, stdout, _ = run_cli(capsys, "export", str(out), "--format", "json")
    exported = json.loads(stdout)
    assert status == 0 and len(exported) == len(rows) and required <= set(exported[0])
    assert all(isinstance(row["test_acc"], float) and row["metric"] == "accuracy" for row in exported)
    (out / "heatmaps.png").unlink()
    assert run_cli(capsys, "report", str(out))[0] == 0 and (out / "heatmaps.png").exists()
    report = (out / "report.md").read_text()
    assert "heatmaps.png" in report and "| adamw |" in report


def stored_runs(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:  # as export reads
        try:
            return dict(db.execute("SELECT key, finished_at FROM runs").fetchall())
        except sqlite3.OperationalError:  # tables not created yet
            return {}


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_study_killed_midway_resumes_with_every_run_exactly_once(tmp_path, monkeypatch, executor):
    """SIGKILL of the driver mid-study, then the same command: every run once, none redone."""
    monkeypatch.setenv("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    out = tmp_path / "out"
    argv = [
        sys.executable, "-m", "decaylab.cli", "study", "--task", TINY, "--methods", "adamw,adaml2,proxadam,adamp",
        "--lrs", "1e-2,3e-2", "--wds", "0,1e-3", "--seeds", "2", "--epochs", "12", "--workers", "1",
        "--executor", executor, "--out", str(out), "--quiet",
    ]  # fmt: skip
    total = 4 * 2 * 2 * 2
    study = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(stored_runs(out / "results.sqlite")) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(study.pid, signal.SIGKILL)
    study.wait()
    before_kill = stored_runs(out / "results.sqlite")
    assert 0 < len(before_kill) < total, "the kill must land mid-study for this test to mean anything"

    finished = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    after = stored_runs(out / "results.sqlite")
    assert len(after) == total
    assert {key: after[key] for key in before_kill} == before_kill, "runs finished before the kill were redone"
    exported = subprocess.run(
        [sys.executable, "-m", "decaylab.cli", "export", str(out)], capture_output=True, text=True, check=True
    ).stdout
    rows = list(csv.DictReader(io.StringIO(exported)))
    configurations = [(r["method"], r["lr"], r["weight_decay"], r["seed"]) for r in rows]
    assert len(configurations) == len(set(configurations)) == total


@pytest.mark.parametrize("group", ["post", "todays-decoupling", "todays", "practice"])
def test_claims_runs_every_check_at_tiny_size_and_resumes(capsys, tmp_path, group):
    """`decaylab claims --quick` on the tiny task and its BN twin: every section, figure and verdict, of each group
    of claims (in parts, so two test processes share them).

    The language-model claim is left out here (charlm costs half a minute even when quick); its rules
    are tested on constructed results.
    """
    from decaylab.claims import GROUPS, group_of, registry

    claims = registry()
    only = [name for name, claim in claims.items() if name != "language" and group_of(claim.position) == group]
    out = tmp_path / "claims"
    argv = ["claims", "--task", TINY.replace("make_task", "make_task_without_bn"), "--bn-task", TINY,
            "--only", ",".join(only), "--quick", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    assert status == 0, err
    report = (out / "claims.md").read_text()
    assert report.startswith(f"# {GROUPS[group]}, checked")  # --only names one set's claims: its title
    scoreboard = report.split("## Scoreboard")[1].split("\n## 1.")[0]
    for number, name in enumerate(only, 1):
        assert f"## {number}. {claims[name].title}" in report
        assert f"\n| {number} | " in scoreboard, name  # every claim has a verdict line on the scoreboard
    for figure in report.split("](claims/")[1:]:
        assert (out / "claims" / figure.split(")")[0]).stat().st_size > 0
    verdicts = [line for line in scoreboard.splitlines() if line.startswith("| ") and "**" in line]
    assert all(any(v in line for v in ("**holds**", "**does not hold**", "**inconclusive**")) for line in verdicts)
    stored = stored_runs(out / "results.sqlite")
    started = time.monotonic()
    assert run_cli(capsys, *argv)[0] == 0  # everything stored: nothing is trained again
    assert stored_runs(out / "results.sqlite") == stored and time.monotonic() - started < 30


def test_claims_with_a_bad_task_writes_nothing(capsys, tmp_path):
    argv = ["claims", "--task", "nosuch", "--out", str(tmp_path / "claims"), "--quiet"]
    assert_one_line_error(*run_cli(capsys, *argv)[::2], "nosuch")
    assert not (tmp_path / "claims").exists()


def test_claims_only_runs_what_it_names_and_refuses_an_unknown_name(capsys, tmp_path):
    argv = ["claims", "--task", TINY.replace("make_task", "make_task_without_bn"), "--bn-task", TINY, "--quick",
            "--out", str(tmp_path / "claims"), "--quiet", "--workers", "1"]  # fmt: skip
    assert_one_line_error(*run_cli(capsys, *argv, "--only", "decoupling,frobnication")[::2], "frobnication")
    assert run_cli(capsys, *argv, "--only", "proximal")[0] == 0
    report = (tmp_path / "claims" / "claims.md").read_text()
    assert "## 1. ProxAdam ≈ AdamW" in report and "## 2." not in report


def test_a_diverging_grid_point_is_stored_and_drawn_as_diverged_and_the_study_goes_on(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0,1000", "--epochs", "3",
            "--seeds", "1", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    rows = {row["weight_decay"]: row for row in csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out))[1]))}
    assert rows["0.0"]["status"] == "done" and rows["1000.0"]["status"] == "diverged"
    assert "| 1 / 0 of 2 |" in (out / "report.md").read_text()  # the report counts the diverged cell
    assert (out / "heatmaps.png").stat().st_size > 0


TASK_FILE = """
import torch
from torch import nn
from decaylab import Task

x, y = torch.randn(60, 4), torch.randint(0, 3, (60,))


def make_task():
    {body}
"""
BAD_TASKS = [
    (
        "return Task('t', (x, y), (x, y), lambda: nn.Sequential(nn.Linear(4, 3), nn.Flatten(0)))",
        ["output (180,), target (60,)"],
    ),
    ("return Task('t', (x, y), (x, y), lambda: nn.Linear(5, 3))", ["one training batch failed", "mat1 and mat2"]),
    ("return Task('t', (x, y + 3), (x, y), lambda: nn.Linear(4, 3), epochs=1)", ["out of bounds"]),
    (
        "bad = y.clone()\n    bad[50] = 7  # past the first batch, in the test split\n"
        "    return Task('t', (x, y), (x, bad), lambda: nn.Linear(4, 3))",
        ["labels 0 … 2", "test example 50 has label 7"],
    ),
    ("raise SystemExit('no GPU here')", ["make_task() exited", "instead of returning a Task"]),
    (
        "return Task('t', (x, y), (x, y), lambda: nn.Linear(4, 3), schedule=lambda step, total: 2.0)",
        ["schedule gives η = 2.0 at step 0"],
    ),  # found before training, not mid-way in a worker
    ("return Task('t', (x, y.float()), (x, y), lambda: nn.Linear(4, 3), epochs=1)", ["float32; give int64 labels"]),
    ("return Task('t', (x, y[:50]), (x, y), lambda: nn.Linear(4, 3))", ["60 inputs but 50 targets"]),
    ("return Task('t', (x[:0], y[:0]), (x, y), lambda: nn.Linear(4, 3))", ["train set is empty"]),
    ("return Task('t', (x, y), (x[:0], y[:0]), lambda: nn.Linear(4, 3))", ["test set is empty"]),
    ("return Task('t', (x * float('nan'), y), (x, y), lambda: nn.Linear(4, 3))", ["NaN"]),
    ("return Task('t', (x, y), (x, y), lambda: nn.ReLU())", ["no trainable parameters"]),
    ("return Task('t', (x, y), (x, y), lambda: nn.Linear(4, 3), epochs=0)", ["epochs"]),
    ("return Task('t', (x, y), (x, y), lambda: nn.Linear(4, 3), batch_size=0)", ["batch_size"]),
    ("raise RuntimeError('no data here')", ["make_task() raised RuntimeError: no data here"]),
    ("return Task('t', (x, y), (x, y), lambda: 1 / 0)", ["make_model() raised ZeroDivisionError"]),
    ("return 42", ["must return decaylab.Task"]),
    (
        "return Task('t', torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y)), (x, y), "
        "lambda: nn.Linear(4, 3))",
        ["train is a DataLoader", "loader.dataset"],
    ),
    (
        "class Stream(torch.utils.data.IterableDataset):\n        def __iter__(self):\n"
        "            return iter(zip(x, y))\n"
        "    return Task('t', (x, y), Stream(), lambda: nn.Linear(4, 3))",
        ["test is an IterableDataset", "TensorDataset"],
    ),
    ("return Task('t', {'x': x, 'y': y}, (x, y), lambda: nn.Linear(4, 3))", ["train is a dict", "TensorDataset"]),
]


@pytest.mark.parametrize(("body", "words"), BAD_TASKS)
def test_a_bad_task_file_is_one_line_and_exit_2_before_any_training(capsys, tmp_path, body, words):
    (tmp_path / "bad.py").write_text(TASK_FILE.format(body=body))
    argv = ["study", "--task", f"{tmp_path / 'bad.py'}:make_task", "--methods", "adamw", "--lrs", "1e-2",
            "--wds", "0,1e-3", "--seeds", "1", "--out", str(tmp_path / "out"), "--workers", "2"]  # fmt: skip
    assert_one_line_error(*run_cli(capsys, *argv)[::2], *words)
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_a_model_whose_parameters_weight_decay_never_reaches_is_refused_unless_the_task_says_so(capsys, tmp_path):
    body = ("class Vector(nn.Module):\n        def __init__(self):\n            super().__init__()\n"
            "            self.weight = nn.Parameter(torch.ones(4))\n"
            "        def forward(self, x):\n            score = x @ self.weight\n"
            "            return torch.stack([score, -score, 0 * score], 1)\n"
            "    return Task('vector', (x, y), (x, y), Vector, epochs=2, batch_size=20,\n"
            "                decay_all={decay_all})")  # fmt: skip
    argv = ["study", "--methods", "adamw", "--lrs", "1e-2", "--wds", "0,1e-1", "--seeds", "1", "--quiet"]
    (tmp_path / "exempt.py").write_text(TASK_FILE.format(body=body.format(decay_all=False)))
    status, _, err = run_cli(
        capsys, *argv, "--task", f"{tmp_path / 'exempt.py'}:make_task", "--out", str(tmp_path / "a")
    )
    assert_one_line_error(status, err, "no parameter is decayed", "decay_all=True")
    (tmp_path / "decayed.py").write_text(TASK_FILE.format(body=body.format(decay_all=True)))
    status, _, err = run_cli(
        capsys, *argv, "--task", f"{tmp_path / 'decayed.py'}:make_task", "--out", str(tmp_path / "b")
    )
    assert status == 0, err
    rows = {
        row["weight_decay"]: row
        for row in csv.DictReader(io.StringIO(run_cli(capsys, "export", str(tmp_path / "b"))[1]))
    }
    assert rows["0.0"]["train_loss"] != rows["0.1"]["train_loss"]  # λ changes the result


def test_a_no_decay_that_exempts_every_decayed_weight_is_named_as_the_cause(capsys, tmp_path):
    body = ("return Task('t', (x, y), (x, y), lambda: nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 3, bias=False)),\n"
            "                no_decay=('1.',))")  # fmt: skip
    (tmp_path / "spared.py").write_text(TASK_FILE.format(body=body))
    argv = ["study", "--task", f"{tmp_path / 'spared.py'}:make_task", "--methods", "adamw", "--lrs", "1e-2",
            "--wds", "0,1e-1", "--seeds", "1", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    assert_one_line_error(*run_cli(capsys, *argv)[::2], "no_decay=('1.',) exempts every parameter", "narrow no_decay")


def test_a_muon_method_on_a_model_without_a_matrix_for_it_is_refused_and_adam_for_chooses_the_layers(capsys, tmp_path):
    body = ("return Task('t', (x, y), (x, y), lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),\n"
            "                epochs=1, batch_size=20, adam_for={adam_for!r})")  # fmt: skip
    argv = ["study", "--methods", "adamw,muonw", "--lrs", "1e-2", "--wds", "0,1e-3", "--seeds", "1", "--quiet"]
    (tmp_path / "all.py").write_text(TASK_FILE.format(body=body.format(adam_for=("0.", "2."))))
    status, _, err = run_cli(capsys, *argv, "--task", f"{tmp_path / 'all.py'}:make_task", "--out", str(tmp_path / "a"))
    assert_one_line_error(status, err, "muonw orthogonalize matrices", "adam_for=('0.', '2.')")
    (tmp_path / "head.py").write_text(TASK_FILE.format(body=body.format(adam_for=("2.",))))
    status, _, err = run_cli(capsys, *argv, "--task", f"{tmp_path / 'head.py'}:make_task", "--out", str(tmp_path / "b"))
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(tmp_path / "b"))[1])))
    assert {row["method"] for row in rows} == {"adamw", "muonw"} and all(row["status"] == "done" for row in rows)


@pytest.mark.parametrize("field", ["adam_for", "no_decay"])
def test_a_name_prefix_field_that_is_not_strings_is_one_line_and_exit_2(capsys, tmp_path, field):
    body = f"return Task('t', (x, y), (x, y), lambda: nn.Linear(4, 3), {field}=['head'])"
    (tmp_path / "listed.py").write_text(TASK_FILE.format(body=body))
    argv = ["study", "--task", f"{tmp_path / 'listed.py'}:make_task", "--methods", "muonw", "--lrs", "1e-2",
            "--seeds", "1", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    assert_one_line_error(*run_cli(capsys, *argv)[::2], f"{field} must be a tuple of parameter-name prefixes")


def test_adam_for_left_at_its_default_keeps_a_custom_tasks_run_keys(monkeypatch):
    """A setting added after stores existed enters the key only when set: the keys of runs stored before it
    are those of the task without it."""
    from decaylab.lab.task import identity
    from tests.lab.tiny_task import make_task

    task = make_task()
    before = identity.code_identity(task, None)
    assert before != identity.code_identity(replace(task, adam_for=("2.",)), None)
    monkeypatch.setattr(identity, "_ADDED_SINCE_STORES_EXIST", ())  # the field counted even at its default
    assert identity.code_identity(task, None) != before


def test_editing_a_module_the_task_imports_trains_again(capsys, tmp_path):
    (tmp_path / "width.py").write_text("WIDTH = 8\n")
    body = (
        "import width\n    model = lambda: nn.Sequential(nn.Linear(4, width.WIDTH), nn.Linear(width.WIDTH, 3))\n"
        "    return Task('t', (x, y), (x, y), model, epochs=1, batch_size=20)"
    )
    (tmp_path / "mine.py").write_text(TASK_FILE.format(body=body))
    argv = ["study", "--task", f"{tmp_path / 'mine.py'}:make_task", "--methods", "adamw", "--lrs", "1e-2",
            "--wds", "0", "--seeds", "1", "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    before = stored_runs(tmp_path / "out" / "results.sqlite")
    assert run_cli(capsys, *argv)[0] == 0 and stored_runs(tmp_path / "out" / "results.sqlite") == before
    (tmp_path / "width.py").write_text("WIDTH = 8  # the helper changed: results may too\n")
    assert run_cli(capsys, *argv)[0] == 0
    after = stored_runs(tmp_path / "out" / "results.sqlite")
    assert len(after) == 2 and set(before) < set(after)


@pytest.mark.parametrize("task", ["ridge", "charlm"])
def test_regression_and_language_tasks_select_and_label_by_their_loss(capsys, tmp_path, task, monkeypatch):
    from decaylab.lab.task import loading
    from decaylab.lab.task.builtin import datasets

    if task == "charlm":  # a short text keeps the test fast; the task is the same
        text = datasets.python_help_text()[:20_000]
        monkeypatch.setattr(datasets, "python_help_text", lambda: text)
    loading.load_task.cache_clear()
    out = tmp_path / task
    argv = ["study", "--task", task, "--methods", "adamw,adaml2", "--lrs", "1e-3,1e-2", "--wds", "0,1e-2",
            "--seeds", "1", "--epochs", "1", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    loading.load_task.cache_clear()
    assert status == 0, err
    report = (out / "report.md").read_text()
    assert "accuracy" not in report.lower()
    metric = "loss" if task == "ridge" else "bits per character"
    assert f"validation {metric} (lower is better)" in report
    rows = list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out))[1])))
    assert "test_acc" not in rows[0] and {row["metric"] for row in rows} == {metric}


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "raise SystemExit('no GPU here')"])
def test_a_task_file_that_exits_at_import_is_one_line_and_exit_2(capsys, tmp_path, exit_call):
    (tmp_path / "exits.py").write_text(f"import sys\n{exit_call}\n")
    status, _, err = run_cli(capsys, "study", "--task", f"{tmp_path / 'exits.py'}:make_task", "--out", str(tmp_path))
    assert_one_line_error(status, err, "exited at import")


def test_a_grid_too_large_to_plan_is_one_line_before_any_planning(capsys, tmp_path):
    started = time.monotonic()
    status, _, err = run_cli(capsys, "study", "--seeds", "99999999999999999999", "--out", str(tmp_path))
    assert_one_line_error(status, err, "runs", "the limit is 1,000,000", "--seeds")
    assert time.monotonic() - started < 10


def test_one_wds_list_for_both_adamw_forms_is_said_and_study_report_true_writes_the_report(capsys, tmp_path):
    """Shared by adamw and adamw-torch, one --wds list gave the torch form almost no decay without a word;
    decaylab.study() wrote no report."""
    argv = ["study", "--task", TINY, "--methods", "adamw,adamw-torch", "--lrs", "1e-2", "--wds", "1e-3",
            "--epochs", "1", "--out", str(tmp_path / "cli"), "--quiet", "--workers", "1"]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    assert status == 0 and "one --wds list is a different λ" in err and "λ_paper = α·λ_torch" in err
    with pytest.warns(UserWarning, match="one --wds list is a different λ"):
        decaylab.study(TINY, methods=["adamw", "adamw-torch"], lrs=[1e-2], wds=[1e-3], epochs=1,
                       out=tmp_path / "py", progress=False, report=True)  # fmt: skip
    assert (tmp_path / "py" / "report.md").exists()
    status, _, err = run_cli(capsys, *argv[:4], "adamw", *argv[5:])  # one form: nothing to say
    assert status == 0 and "different λ" not in err


def test_muons_newton_schulz_type_reaches_its_runs_only_and_the_report_says_it(capsys, tmp_path):
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "muonw,adamw", "--lrs", "1e-2", "--wds", "1e-3", "--epochs", "1",
            "--ns-dtype", "float32", "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    status, _, err = run_cli(capsys, *argv)
    assert status == 0 and "--ns-dtype is for Muon methods; adamw trains as usual" in err
    rows = list(csv.DictReader(io.StringIO(run_cli(capsys, "export", str(out))[1])))
    assert sorted((row["method"], row["ns_dtype"]) for row in rows) == [("adamw", "bfloat16"), ("muonw", "float32")]
    assert "Practice: Muon's Newton–Schulz computes in float32" in (out / "report.md").read_text()


def test_a_practice_reaches_the_runs_and_the_report_shows_only_the_latest_practices_runs(capsys, tmp_path):
    """Two studies of one grid in one folder, the second with every parameter decayed and λ on a cosine: both
    sets of runs are stored, each with its practice, and the report is the latest study's, saying its practice."""
    out = tmp_path / "out"
    argv = ["study", "--task", TINY, "--methods", "adamw", "--lrs", "1e-2", "--wds", "0,1e-2", "--epochs", "1",
            "--out", str(out), "--quiet", "--workers", "1"]  # fmt: skip
    assert run_cli(capsys, *argv)[0] == 0
    assert run_cli(capsys, *argv, "--decayed", "all", "--decay-schedule", "cosine")[0] == 0
    status, text, _ = run_cli(capsys, "export", str(out))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 0 and sorted((row["decayed"], row["decay_schedule"]) for row in rows) == [
        ("all", "cosine"), ("all", "cosine"), ("task", "constant"), ("task", "constant")
    ]  # fmt: skip
    report = (out / "report.md").read_text()
    assert "2 runs stored. Practice: λ reaches every parameter" in report and "own cosine schedule" in report
