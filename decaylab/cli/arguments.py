"""The command line's argument types and shared options: each bad value is one line saying what to fix."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from decaylab.lab.execution import Executor
    from decaylab.lab.practice import Practice


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2), not usage text."""

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):  # argparse reads "-1e-3" as a flag
            message += " (a value starting with '-' goes after '=', as in --lrs=-1e-3)"
        self.exit(2, f"decaylab: error: {message}\n")


def comma_list(convert: Callable[[str], object], what: str) -> Callable[[str], tuple[object, ...]]:
    def parse(text: str) -> tuple[object, ...]:
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {what}")
        try:
            return tuple(convert(item) for item in items)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {what}") from None

    return parse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def fraction(text: str) -> float:
    value = number(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1), got {text}")
    return value


def nonnegative_number(text: str) -> float:
    value = number(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def positive_number(text: str) -> float:
    value = number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def directory(text: str) -> Path:
    """A directory path, given or to be made; an empty one is refused (it would mean the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a directory")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a directory")
    return path


def add_running_options(parser: argparse.ArgumentParser) -> None:
    """How and where runs train: every command that trains takes these."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--workers", type=positive_int, default=None, help="parallel workers (default: one per core)")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="auto",
        help="where to train (default: auto, CUDA if visible)",
    )
    parser.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    parser.add_argument(
        "--gpus-per-task",
        type=nonnegative_number,
        default=0.0,
        help="GPUs per Ray task, fractions share a GPU (default: 1 with --device cuda)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_number,
        default=30.0,
        help="seconds to reach the Ray cluster at --address (default: 30)",
    )
    parser.add_argument("--data-dir", type=directory, default=None, help="where data sets are cached or downloaded")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_practice_options(parser: argparse.ArgumentParser) -> None:
    """The practitioners' choices around λ (:class:`~decaylab.lab.practice.Practice`): study and transfer take them."""
    from decaylab.lab.runs import DECAYED
    from decaylab.optim import DECAY_SCHEDULES
    from decaylab.optim.reference import NS_DTYPES

    parser.add_argument("--decayed", choices=DECAYED, default="task", help="which parameters λ reaches (default: task)")
    parser.add_argument(
        "--decay-schedule",
        choices=DECAY_SCHEDULES,
        default="constant",
        help="λ's own multiplier over training, beside the lr's (default: constant; cosine and linear end at 0)",
    )
    parser.add_argument("--adam-lr", type=positive_number, default=None, help="α of a Muon method's Adam half")
    parser.add_argument(
        "--adam-wd", type=nonnegative_number, default=None, help="λ of a Muon method's Adam half (default: --wds's)"
    )
    parser.add_argument(
        "--ns-dtype",
        choices=NS_DTYPES,
        default="bfloat16",
        help="the type Muon's Newton–Schulz computes in (default: bfloat16, as torch; float32 is 12x faster on a CPU)",
    )


def practice_of(args: argparse.Namespace) -> Practice:
    from decaylab.lab.practice import Practice

    return Practice(args.decayed, args.decay_schedule, args.adam_lr, args.adam_wd, args.ns_dtype)


def executor_of(args: argparse.Namespace) -> Executor:
    from decaylab.lab.execution import make_executor

    return make_executor(
        args.executor, args.workers, args.device, args.address, args.gpus_per_task, args.connect_timeout
    )


def target_values(text: str) -> dict[str, float]:
    """``N=64000,epochs=30`` as ``{"N": 64000.0, "epochs": 30.0}``."""
    from decaylab.lab.transfer.axes import LABELS

    values = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in LABELS:
            raise argparse.ArgumentTypeError(f"{item!r}: give AXIS=VALUE with AXIS one of {', '.join(LABELS)}")
        if name.strip() in values:
            raise argparse.ArgumentTypeError(f"{name.strip()} is given twice; give each axis once")
        values[name.strip()] = positive_number(value)
    return values
