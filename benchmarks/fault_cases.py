"""The bad cases of issues 20 and 27, replayed: each ends in one line on stderr with its documented exit code.

    python benchmarks/fault_cases.py [--only WORD] [--no-ray]

Exit codes: 2 bad input, 1 the environment (disk, permissions, damage, a failing unit), 130/143 signals,
0 where the fault must be survived (a kill at store creation, a deleted store). Each case runs the
``decaylab`` command in a fresh folder on the tests' tiny task. Cases that need root (a small tmpfs,
``chattr``) say "skipped" where they cannot run. Prints one row per case and exits 1 if any failed.
The same faults are unit-tested in ``tests/cli/test_faults.py``, ``tests/cli/test_cli.py``,
``tests/cli/test_transfer_cli.py``, ``tests/cli/test_members.py``, ``tests/lab/test_store.py``,
``tests/lab/test_datasets.py`` and ``tests/lab/test_train.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
TINY = f"{ROOT / 'tests' / 'lab' / 'tiny_task.py'}:make_task"
CLI = [sys.executable, "-m", "decaylab.cli"]
GRID = ["--methods", "adamw,adaml2", "--lrs", "1e-3,1e-2", "--wds", "0,1e-3", "--seeds", "1", "--quiet"]
RAY_NOTICE = "Token authentication is enabled for this Ray cluster"  # Ray's own, when it starts a cluster
TASK = """
import sys
import torch
from torch import nn
from decaylab import Task

x, y = torch.randn(600, 4), torch.randint(0, 3, (600,))
{body}

def make_task():
    return Task("t", (x[:400], y[:400]), (x[500:], y[500:]), lambda: nn.Linear(4, 3), validation=(x[400:500],
                y[400:500]), epochs=2, batch_size=50{extra})
"""
ISSUE_GRID = ["--task", "mnist1d-mlp", "--epochs", "3", "--lrs", "1e-3,1e-2", "--wds", "0,1e-3", "--methods",
              "adamw,adaml2", "--seeds", "1", "--quiet"]  # fmt: skip
"""The issue's shorthand ``S``."""


class Skipped(Exception):
    """The case cannot run here (no root, no Ray)."""


@dataclass
class Outcome:
    status: int
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line and not line.startswith(RAY_NOTICE)]


def run(*args: str, folder: Path, stdout: object = subprocess.DEVNULL, shell_tail: str = "") -> Outcome:
    if shell_tail:  # a redirection the shell must make (a closed stdout)
        command = " ".join([*CLI, *args]) + shell_tail
        done = subprocess.run(command, shell=True, cwd=folder, stderr=subprocess.PIPE, text=True, timeout=600)
    else:
        done = subprocess.run([*CLI, *args], cwd=folder, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=600)
    return Outcome(done.returncode, done.stderr)


def study(folder: Path, *extra: str, task: str = TINY) -> Outcome:
    return run("study", "--task", task, *GRID, "--workers", "1", "--out", str(folder / "out"), *extra, folder=folder)


def task_file(folder: Path, body: str, extra: str = "") -> str:
    (folder / "task.py").write_text(TASK.format(body=body, extra=extra))
    return f"{folder / 'task.py'}:make_task"


def stored(folder: Path) -> int:
    """Runs stored so far (0 before the store is made), read as ``decaylab export`` reads: read-only, closed after."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{(folder / 'out' / 'results.sqlite').as_uri()}?mode=ro", uri=True)
        ) as db:
            return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.Error:
        return 0


def small_disk(folder: Path, size: str) -> Path:
    disk = folder / "disk"
    disk.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)]).returncode
    ):
        raise Skipped("needs root to mount a small tmpfs")
    return disk


def wait_for(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def killed_at_creation(folder: Path) -> Outcome:
    for attempt in range(10):
        driver = subprocess.Popen([*CLI, "study", "--task", TINY, *GRID, "--out", str(folder / "out")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for(lambda: (folder / "out" / "results.sqlite").exists(), 30)
        time.sleep(attempt * 0.002)
        driver.kill()
        driver.wait()
    return study(folder)


def full_disk_at_creation(folder: Path) -> Outcome:
    disk = small_disk(folder, "2m")
    try:
        (disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 40 * 1024))
        full = run("study", "--task", TINY, *GRID, "--out", str(disk / "out"), folder=folder)
        (disk / "filler").unlink()
        again = run("study", "--task", TINY, *GRID, "--out", str(disk / "out"), folder=folder)
        return full if again.status == 0 else Outcome(again.status, "rerun failed: " + again.stderr)
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def deleted_mid_study(folder: Path) -> Outcome:
    argv = [*CLI, "study", "--task", TINY, *GRID, "--seeds", "4", "--epochs", "20", "--workers", "1",
            "--out", str(folder / "out")]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (folder / "out" / "results.sqlite").exists() and stored(folder) > 0, 120)
    (folder / "out" / "results.sqlite").unlink()
    _, err = driver.communicate(timeout=300)
    complete = (folder / "out" / "results.sqlite").exists() and stored(folder) == 32
    return Outcome(driver.returncode if complete else 99, err)


def damaged_store(command: str) -> Callable[[Path], Outcome]:
    def case(folder: Path) -> Outcome:
        study(folder)
        path = folder / "out" / "results.sqlite"
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = bytearray(path.read_bytes())
        data[4096:8192] = b"\xff" * 4096
        path.write_bytes(bytes(data))
        return study(folder) if command == "study" else run(command, str(folder / "out"), folder=folder)

    return case


def tables_missing(folder: Path) -> Outcome:
    (folder / "out").mkdir()
    with sqlite3.connect(folder / "out" / "results.sqlite") as db:
        db.executescript("CREATE TABLE meta (name, value); INSERT INTO meta VALUES ('application', 'decaylab'), "
                         "('schema_version', '2');")  # fmt: skip
    return run("export", str(folder / "out"), folder=folder)


def disk_fills(free: int) -> Callable[[Path], Outcome]:
    def case(folder: Path) -> Outcome:
        disk = small_disk(folder, "2m")
        try:
            (disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - free))
            return run("study", *ISSUE_GRID, "--workers", "1", "--out", str(disk / "out"), folder=folder)
        finally:
            subprocess.run(["umount", "-l", str(disk)])

    return case


def immutable_mid_study(folder: Path) -> Outcome:
    argv = [*CLI, "study", "--task", TINY, *GRID, "--seeds", "6", "--epochs", "30", "--workers", "1",
            "--out", str(folder / "out")]  # fmt: skip
    driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    files = [str(folder / "out" / f"results.sqlite{suffix}") for suffix in ("", "-wal", "-shm")]
    wait_for(lambda: all(Path(f).exists() for f in files) and stored(folder) > 0, 120)
    if subprocess.run(["chattr", "+i", *files], capture_output=True).returncode:
        driver.kill()
        raise Skipped("chattr +i is not allowed here")
    try:
        _, err = driver.communicate(timeout=300)
    finally:
        subprocess.run(["chattr", "-i", *files], capture_output=True)
    return Outcome(driver.returncode, err)


def exported(folder: Path, stdout: str | None = None, shell_tail: str = "") -> Outcome:
    """A study, then its export into ``stdout`` (a path) or through a shell redirection."""
    study(folder)
    if stdout is None:
        return run("export", str(folder / "out"), folder=folder, shell_tail=shell_tail)
    with open(stdout, "w") as sink:
        return run("export", str(folder / "out"), folder=folder, stdout=sink)


def damaged_cache(content: Callable[[Path], None]) -> Callable[[Path], Outcome]:
    def case(folder: Path) -> Outcome:
        data = folder / "data"
        data.mkdir()
        content(data / "mnist1d-4000-4000-6000.npz")
        return run("study", "--task", "mnist1d-mlp", "--data-dir", str(data), *GRID, "--out", str(folder / "out"),
                   folder=folder)  # fmt: skip

    return case


def object_array(path: Path) -> None:
    import numpy as np

    np.savez(path, x=np.array([object()], dtype=object), y=np.zeros(1), x_test=np.zeros(1), y_test=np.zeros(1))


def signalled(number: int, executor: str) -> Callable[[Path], Outcome]:
    def case(folder: Path) -> Outcome:
        argv = [*CLI, "study", "--task", TINY, *GRID, "--seeds", "6", "--epochs", "40", "--workers", "1",
                "--executor", executor, "--out", str(folder / "out")]  # fmt: skip
        driver = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: (folder / "out" / "results.sqlite").exists() and stored(folder) > 0, 180)
        driver.send_signal(number)
        _, err = driver.communicate(timeout=120)
        return Outcome(driver.returncode, err)

    return case


def ray_address(listening: bool) -> Callable[[Path], Outcome]:
    def case(folder: Path) -> Outcome:
        with socket.create_server(("127.0.0.1", 0)) as server:
            port = server.getsockname()[1]
            if not listening:
                server.close()
            return run("study", "--task", TINY, *GRID, "--executor", "ray", "--address", f"127.0.0.1:{port}",
                       "--connect-timeout", "5", "--out", str(folder / "out"), folder=folder)  # fmt: skip

    return case


def report_of(runs: str) -> Callable[[Path], Outcome]:
    """A study whose runs all diverge (λ far too large), or one stopped half-way, then its report."""

    def case(folder: Path) -> Outcome:
        if runs == "diverged":
            study(folder, "--wds", "1e30", "--methods", "adamw")
        else:
            study(folder, "--methods", "adamw")
            with sqlite3.connect(folder / "out" / "results.sqlite") as db:  # the study asked for two methods
                db.execute("INSERT INTO studies (spec, started_at) SELECT replace(spec, '[\"adamw\"]', "
                           "'[\"adamw\", \"adaml2\"]'), started_at + 1 FROM studies")  # fmt: skip
        done = run("report", str(folder / "out"), folder=folder)
        text = (folder / "out" / "report.md").read_text() if done.status == 0 else ""
        table = text[text.index("## Best cell") :].split("\n\n")[2].splitlines() if text else []
        whole = len({line.count("|") for line in table}) == 1 and (runs == "diverged" or "not stored yet" in text)
        return done if whole else Outcome(99, "report rows or missing runs wrong")

    return case


def spreadsheet(folder: Path) -> Outcome:
    metric = ', metric=Metric(\'=HYPERLINK("http://example.invalid","click")\', lambda o, t: o.sum())'
    study(folder, task=task_file(folder, "from decaylab import Metric", extra=metric))
    done = subprocess.run([*CLI, "export", str(folder / "out")], capture_output=True, text=True)
    escaped = "'=HYPERLINK" in done.stdout and ",=HYPERLINK" not in done.stdout
    return Outcome(done.returncode if escaped else 99, done.stderr)


def labels(split: str, index: int, value: int) -> Callable[[Path], Outcome]:
    offset = {"train": 0, "validation": 400, "test": 500}[split]
    return lambda folder: study(folder, task=task_file(folder, f"y[{offset + index}] = {value}"))


def transfer(folder: Path, *extra: str) -> Outcome:
    return run("transfer", "--task", TINY, "--quick", "--quiet", "--out", str(folder / "out"), *extra, folder=folder)


def ctrl_c_at_start(folder: Path) -> Outcome:
    """Ctrl-C while the command's parser imports torch (its library just mapped). Before that, in Python's own
    start-up, no code of decaylab's has run yet: that traceback is Python's."""
    argv = [*CLI, "study", "--task", TINY, *GRID, "--out", str(folder / "out")]
    driver = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "libtorch" in Path(f"/proc/{driver.pid}/maps").read_text(), 60)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    return Outcome(driver.returncode, err)


def ctrl_c_to_the_workers(folder: Path) -> Outcome:
    """SIGINT to the two workers alone (Ctrl-C reaches the process group): the driver carries on."""
    argv = [*CLI, "study", "--task", TINY, *GRID, "--epochs", "20", "--workers", "2", "--out", str(folder / "out")]
    driver = subprocess.Popen(argv, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(children(driver.pid)) >= 3, 120)  # two workers and the resource tracker
    for pid in children(driver.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    return Outcome(driver.returncode, err)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def swapped_weights(folder: Path) -> Outcome:
    study(folder, "--methods", "adamw", "--wds", "0", "--keep", "all")
    first, second = sorted((folder / "out" / "weights").iterdir())[:2]
    content = first.read_bytes()
    first.write_bytes(second.read_bytes())
    second.write_bytes(content)
    return run("weights", str(folder / "out"), folder=folder)


def named(name: str, metric: bool = False) -> Callable[[Path], Outcome]:
    """A task file whose task (or metric) name holds a newline or an escape code."""

    def case(folder: Path) -> Outcome:
        if metric:
            extra = f", metric=Metric({name!r}, lambda o, t: (o.argmax(-1) == t).float().mean())"
            return study(folder, task=task_file(folder, "from decaylab import Metric", extra=extra))
        (folder / "task.py").write_text(TASK.format(body="", extra="").replace('Task("t"', f"Task({name!r}"))
        return study(folder, task=f"{folder / 'task.py'}:make_task")

    return case


CASES: list[tuple[str, int, Callable[[Path], Outcome]]] = [
    ("kill -9 at store creation, 10 times, then the same command", 0, killed_at_creation),
    ("a full disk while creating the store", 1, full_disk_at_creation),
    ("results.sqlite deleted mid-study", 0, deleted_mid_study),
    ("a task file that calls sys.exit(0) at import", 2, lambda f: study(f, task=task_file(f, "sys.exit(0)"))),
    (
        "a task file that raises SystemExit('...') at import",
        2,
        lambda f: study(f, task=task_file(f, "raise SystemExit('no GPU here')")),
    ),
    ("a label of 10 at index 300 of train (3 classes)", 2, labels("train", 300, 10)),
    ("a label out of range in the validation split", 2, labels("validation", 50, 3)),
    ("a label out of range in the test split", 2, labels("test", 50, 3)),
    ("a label of -1", 2, labels("train", 200, -1)),
    ("a damaged database: export", 1, damaged_store("export")),
    ("a damaged database: report", 1, damaged_store("report")),
    ("a damaged database: study", 1, damaged_store("study")),
    ("decaylab's meta rows but no tables", 1, tables_missing),
    ("a disk that fills mid-study (400 KB free)", 1, disk_fills(400 * 1024)),
    ("a disk that fills mid-study (900 KB free)", 1, disk_fills(900 * 1024)),
    ("chattr +i on the db, WAL and SHM mid-study", 1, immutable_mid_study),
    ("a truncated MNIST-1D .npz in --data-dir", 2, damaged_cache(lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 64))),
    ("an object-array MNIST-1D .npz in --data-dir", 2, damaged_cache(object_array)),
    ("export with stdout closed", 1, lambda folder: exported(folder, shell_tail=" >&-")),
    ("export > /dev/full", 1, lambda folder: exported(folder, stdout="/dev/full")),
    ("--seeds 99999999999999999999", 2, lambda f: study(f, "--seeds", "99999999999999999999")),
    ("SIGTERM to a study", 143, signalled(signal.SIGTERM, "local")),
    ("Ctrl-C (SIGINT) to a study", 130, signalled(signal.SIGINT, "local")),
    ("a report when every run diverged", 0, report_of("diverged")),
    ("a report of a half-finished study", 0, report_of("half")),
    ("a metric named =HYPERLINK(...) in the CSV export", 0, spreadsheet),
    ("--epochs 99999999999999999999 (it grew to 24 GB)", 2, lambda f: study(f, "--epochs", "99999999999999999999")),
    ("transfer: an N whose last batch is one example, with BatchNorm", 2, lambda f: transfer(f, "--N", "51,100,200")),
    ("transfer: --to epochs=1e300 (an OverflowError)", 2, lambda f: transfer(f, "--to", "epochs=1e300")),
    ("Ctrl-C while the parser imports torch", 130, ctrl_c_at_start),
    ("Ctrl-C to the workers alone", 0, ctrl_c_to_the_workers),
    ("a task named with a newline", 2, named("t\n## a heading of its own")),
    ("a metric named with a window-title escape", 2, named("acc\x1b]0;title\x07", metric=True)),
    ("two kept weights files swapped", 2, swapped_weights),
    ("ray: a dead address", 2, ray_address(listening=False)),
    ("ray: an address where something else listens", 2, ray_address(listening=True)),
    ("ray: SIGTERM to the driver", 143, signalled(signal.SIGTERM, "ray")),
    ("ray: a label out of range", 2, lambda f: study(f, "--executor", "ray", task=task_file(f, "y[300] = 10"))),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--no-ray", action="store_true", help="leave out the cases on Ray")
    args = parser.parse_args()
    failed = 0
    print("| case | exit wanted | exit got | lines on stderr | |\n|---|---|---|---|---|")
    for name, wanted, case in CASES:
        if (args.only and args.only not in name) or (args.no_ray and name.startswith("ray")):
            continue
        with tempfile.TemporaryDirectory() as folder:
            try:
                outcome = case(Path(folder))
            except Skipped as why:
                print(f"| {name} | {wanted} | — | — | skipped: {why} |", flush=True)
                continue
        lines = outcome.lines
        good = outcome.status == wanted and (len(lines) == 1 if wanted else not any("Traceback" in l for l in lines))
        failed += not good
        shown = lines[0][:100] if len(lines) == 1 else f"{len(lines)} lines"
        print(f"| {name} | {wanted} | {outcome.status} | {shown} | {'ok' if good else 'FAILED'} |", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
