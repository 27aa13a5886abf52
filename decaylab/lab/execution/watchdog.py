"""Ends a local Ray cluster whose driver is gone: ``python -m decaylab.lab.execution.watchdog DRIVER PID…``.

Ray's head processes (GCS, raylet, its agents and workers) outlive a driver killed with SIGKILL by a minute
or more. The driver starts this process in a session of its own; it polls the driver every half second,
keeps track of the cluster's processes and their descendants, and kills them once the driver has gone. It
exits by itself when the cluster stops first (``ray.shutdown``). Linux only (it reads ``/proc``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

POLL = 0.5


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, finished but not yet reaped, does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def with_descendants(roots: set[int]) -> set[int]:
    """``roots`` and every live process below them."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    family, grown = set(roots), True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in family} - family
        family |= below
        grown = bool(below)
    return {pid for pid in family if alive(pid)}


def watch(driver: int, cluster: set[int]) -> None:
    while alive(driver):
        cluster = with_descendants(cluster)
        if not cluster:  # shut down with its driver alive: nothing left to watch
            return
        time.sleep(POLL)
    for pid in with_descendants(cluster):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def main(argv: Sequence[str]) -> None:
    driver, *cluster = (int(value) for value in argv)
    watch(driver, set(cluster))


if __name__ == "__main__":
    main(sys.argv[1:])
