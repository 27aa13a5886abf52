"""Load: a study of ≥ 500 runs of a tiny model through Ray on this machine; wall time and peak memory.

    python benchmarks/ray_load.py [--workers 2]

Runs ``decaylab study --executor ray`` (a local Ray cluster, started and stopped by it) on the
tests' tiny task: 5 methods × 10 learning rates × 10 weight decays, 1 epoch. Memory is the
machine's used memory (``MemTotal − MemAvailable``) sampled every 0.1 s, minus what was used
before the study began: it counts every Ray process, not only the driver.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TINY_TASK = Path(__file__).parents[1] / "tests" / "lab" / "tiny_task.py"


def used_memory() -> int:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(fields["MemTotal"].split()[0]) - int(fields["MemAvailable"].split()[0])) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    lrs = ",".join(f"{10 ** (-3 + k / 5):.3g}" for k in range(10))
    decays = ",".join(["0"] + [f"{10 ** (-5 + k / 2):.3g}" for k in range(9)])
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "decaylab.cli", "study", "--task", f"{TINY_TASK}:make_task",
            "--methods", "adamw,adaml2,proxadam,adamp,adamc", "--lrs", lrs, "--wds", decays,
            "--epochs", "1", "--seeds", "1", "--executor", "ray", "--workers", str(args.workers),
            "--out", out, "--quiet",
        ]  # fmt: skip
        baseline, peak, done = used_memory(), 0, threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, used_memory())
                time.sleep(0.1)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        exported = subprocess.run(
            [sys.executable, "-m", "decaylab.cli", "export", out], check=True, capture_output=True, text=True
        ).stdout.splitlines()
    print(f"runs stored: {len(exported) - 1} (5 methods x 10 lrs x 10 weight decays) through Ray, {args.workers} CPUs")
    print(f"wall time: {wall:.1f} s (Ray start-up and shut-down included)")
    print(f"peak memory above baseline: {(peak - baseline) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
