"""The ``decaylab`` command: ``study``, ``export``, ``report``, ``weights``, ``reproduce``, ``claims`` and
``transfer``.

Bad input (a flag, a value, a file) ends with one line on stderr saying what to fix and exit
status 2, never a traceback. Each command's parser is built only when that command runs, so
``decaylab --help`` imports no torch, and ``decaylab study --help`` no claim and no matplotlib.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from decaylab.cli.arguments import OneLineParser
from decaylab.cli.commands import COMMANDS
from decaylab.lab.errors import RunFailure, StoreFrozen, Terminated, UsageError, one_line


def parse(argv: Sequence[str]) -> tuple[str, argparse.Namespace]:
    """The command and its arguments. The top-level parser only lists the commands (``decaylab --help``) and
    refuses an unknown one; the command's own parser is built when it runs."""
    if argv and argv[0] in COMMANDS:
        return argv[0], COMMANDS[argv[0]].parser().parse_args(argv[1:])
    top = OneLineParser(prog="decaylab", description="Weight decay in Adam-type optimizers: studies.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.summary, add_help=False)
    top.parse_args(argv)  # prints the help, or exits with the error
    raise AssertionError("argparse accepted a command it does not list")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr (``--debug``: the traceback too)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    signal.signal(signal.SIGTERM, terminate)
    try:  # a command's parser may import torch (a second or two): Ctrl-C there is an interrupt like any other
        name, args = parse([argument for argument in arguments if argument != "--debug"])
    except KeyboardInterrupt as stop:
        return report("interrupted", 143 if isinstance(stop, Terminated) or TERMINATED else 130, debug)
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        return report("stdout is closed, so nothing can be written; redirect it (> file or > /dev/null)", 1, False)
    try:
        COMMANDS[name].run(args)
        sys.stdout.flush()  # a closed or full stdout fails here, as one line, not at exit
    except UsageError as error:
        return report(f"error: {error}", 2, debug)
    except StoreFrozen as error:  # exit without finalizing: SQLite's close would die of SIGBUS
        report(str(error), 1, debug)
        sys.stderr.flush()
        os._exit(1)
    except RunFailure as error:
        return report(str(error), 1, debug)
    except BrokenPipeError:  # the reader went away (`decaylab export DIR | head`)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more to flush to the closed pipe
        return 0
    except (OSError, sqlite3.Error) as error:  # the environment: a full or read-only disk, a closed stdout
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - what is left to print has nowhere to go
        return report(f"{one_line(error)} (the disk, its permissions or stdout; stored runs are kept)", 1, debug)
    except KeyboardInterrupt as stop:
        status = 143 if isinstance(stop, Terminated) or TERMINATED else 130
        return report("interrupted; run the same command again to resume", status, debug)
    return 0


def terminate(signum: int, frame: object) -> NoReturn:
    """SIGTERM: stop as Ctrl-C does, and remember it was SIGTERM (a library may re-raise a plain interrupt)."""
    TERMINATED.append(signum)
    raise Terminated


TERMINATED: list[int] = []


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
"""Terminal colour codes (Ray colours its errors): never in decaylab's one line."""


def report(line: str, status: int, debug: bool) -> int:
    """Print ``decaylab: LINE`` on stderr (with the traceback under ``--debug``) and return ``status``."""
    if debug:
        traceback.print_exc()
    print(f"decaylab: {ANSI.sub('', line)}", file=sys.stderr)
    return status
