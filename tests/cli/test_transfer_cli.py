"""``decaylab transfer`` from the command line: bad input is one line; killed, it resumes, training nothing twice
and ending with the numbers of an uninterrupted run."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from decaylab.lab.execution import base

from .test_cli import TINY, assert_one_line_error, run_cli, stored_runs

QUICK = ["transfer", "--task", TINY, "--method", "adamw", "--quick", "--workers", "1", "--quiet"]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--method", "adam"], ["--method", "weight decay"]),
        (["--method", "sgdx"], ["--method"]),
        (["--axes", "depth"], ["depth"]),
        (["--axes", "batch"], ["batch", "--batch"]),  # no default values for it on a task of one's own
        (["--N", "0,100"], ["--N"]),
        (["--N", "100,abc"], ["--N"]),
        (["--N", "100,200,100000"], ["100000", "training examples"]),
        (["--lrs", "0,1e-2"], ["lr", "> 0"]),
        (["--width", "8,16,32"], ["width"]),  # the tiny model takes no width
        (["--epochs", "2,3"], ["epochs", "held-out"]),
        (["--to", "N=abc"], ["--to"]),
        (["--to", "depth=3"], ["--to", "depth"]),
        (["--seeds", "0"], ["--seeds"]),
        (["--lr", "-1"], ["--lr"]),
        (["--task", "imagenet"], ["imagenet"]),
        (["--axes", "N", "--to", "epochs=6"], ["--to epochs", "add it to --axes"]),  # a law it never measured
        (["--axes", "batch", "--batch", "50,100,5000"], ["batch of 5000", "larger than the training set"]),
        (["--axes", "N", "--to", "N=5000", "--verify"], ["N=5000"]),  # the target trained beyond the data
        (["--to", "epochs=1.5"], ["epochs must be a whole number", "1.5"]),
        (["--to", "N=0.5"], ["N must be a whole number", "0.5"]),
        (["--axes", "N", "--N", "25,50.5,100"], ["--N", "50.5", "not a whole number"]),
        (["--axes", "N", "--N", "51,100,200"], ["N=51", "batch of one"]),  # BatchNorm cannot train on one
        (["--to", "epochs=1e300"], ["epochs must be at most"]),  # was an OverflowError's traceback
        (["--to", "N=100,N=200"], ["N is given twice"]),  # kept the last silently
        (["--verify"], ["--verify", "--to"]),  # was ignored
        (["--to", "N=1e300"], ["N must be at most"]),  # was "λ = 0 (95% interval 0 to 0)"
        (["--decay-schedule", "cos"], ["--decay-schedule"]),
        (["--adam-wd", "-1"], ["--adam-wd"]),
        (["--adam-lr", "1e-3"], ["--adam-lr is for Muon methods", "adamw is not one"]),  # was silently ignored
        (["--ns-dtype", "float32"], ["--ns-dtype is for Muon methods", "adamw"]),
        (["--ns-dtype", "float16"], ["--ns-dtype", "float16"]),
    ],
)
def test_a_bad_transfer_flag_is_one_line_and_exit_2(capsys, tmp_path, flags, words):
    status, _, err = run_cli(capsys, *QUICK, "--out", str(tmp_path / "out"), *flags)
    assert_one_line_error(status, err, *words)


def test_a_killed_transfer_resumes_trains_nothing_twice_and_ends_as_an_uninterrupted_one(capsys, tmp_path, monkeypatch):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    argv = [sys.executable, "-m", "decaylab.cli", *QUICK, "--out", str(killed)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(stored_runs(killed / "results.sqlite")) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = stored_runs(killed / "results.sqlite")
    assert len(before) >= 30, "the kill must land mid-transfer for this test to mean anything"

    trained: list[str] = []
    train_unit = base.train_unit

    def counted(task, runs, *args, **kwargs):
        trained.extend(run.key for run in runs)
        return train_unit(task, runs, *args, **kwargs)

    monkeypatch.setattr(base, "train_unit", counted)
    assert run_cli(capsys, *QUICK, "--out", str(killed))[0] == 0
    assert trained and not set(trained) & set(before), "a run stored before the kill was trained again"
    assert len(trained) == len(set(trained)), "a run was trained twice after the kill"
    assert set(trained) <= set(stored_runs(killed / "results.sqlite"))
    monkeypatch.setattr(base, "train_unit", train_unit)

    assert run_cli(capsys, *QUICK, "--out", str(clean))[0] == 0
    assert len(stored_runs(killed / "results.sqlite")) == len(stored_runs(clean / "results.sqlite"))
    with (killed / "transfer.csv").open() as resumed, (clean / "transfer.csv").open() as uninterrupted:
        assert list(csv.DictReader(resumed)) == list(csv.DictReader(uninterrupted))
