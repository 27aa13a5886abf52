"""The ``decaylab`` command: ``study``, ``export``, ``report`` and ``claims``.

Bad input (a flag, a value, a file) ends with one line on stderr saying what to fix and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from decaylab.claims.base import ROLES
from decaylab.lab.errors import RunFailure, UsageError
from decaylab.lab.execution import make_executor
from decaylab.lab.store import ResultStore
from decaylab.lab.study import StudySpec, run_study
from decaylab.lab.task.builtin.catalogue import BUILT_IN, DEFAULT_TASK
from decaylab.lab.task.loading import short_name
from decaylab.lab.task.schedules import SCHEDULES


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


CLAIMS_HELP = """claims (--only):
  decoupling  the post's Fig. 1: the best λ per α, slopes with bootstrap intervals (L&H 2019)
  batchnorm   AdamW against AdamL2 without and with BatchNorm; λ = 0 with BN (Zhuang et al. 2022)
  late        AdamW's lead over AdamL2 grows late in training (L&H 2019)
  proximal    a ProxAdam step from AdamW's state lands where AdamW's does (Zhuang et al.; the post)
  scale       multiplying the loss moves AdamL2's best λ, not AdamW's (Zhuang et al. 2022)
  rotation    BatchNorm-fed weights rotate at their equilibrium rate (Zhang 2019; Kosson 2024)
  ridge       ridge regression: paper form flat, torch form α·λ fixed (Schaipp 2024)
  timescale   λ* against dataset size and training length (Wang & Aitchison 2025)
  adamc       AdamC keeps normalized layers steady as the lr anneals (Defazio 2025)
  language    a transformer LM: AdamW against AdamL2, and decoupling"""

TASKS_HELP = "tasks:\n" + "\n".join(f"  {name:<22} {built_in.description}" for name, built_in in BUILT_IN.items())
TASKS_HELP += "\n  path/to/file.py:make_task  your own: make_task() returns a decaylab.Task"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="decaylab", description="Weight decay in Adam-type optimizers: studies.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    running = OneLineParser(add_help=False)  # how and where runs train: study and claims alike
    running.add_argument("--executor", choices=("local", "ray"), default="local")
    running.add_argument("--workers", type=positive_int, default=None, help="parallel workers (default: one per core)")
    running.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                         help="where to train (default: auto, CUDA if visible)")  # fmt: skip
    running.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    running.add_argument("--gpus-per-task", type=nonnegative_number, default=0.0,
                         help="GPUs per Ray task, fractions share a GPU (default: 1 with --device cuda)")  # fmt: skip
    running.add_argument("--connect-timeout", type=positive_number, default=30.0,
                         help="seconds to reach the Ray cluster at --address (default: 30)")  # fmt: skip
    running.add_argument("--data-dir", type=directory, default=None, help="where data sets are cached or downloaded")
    running.add_argument("--quiet", action="store_true", help="no progress bars")

    study = commands.add_parser(
        "study", parents=[running], help="run (or resume) a study, then write its report",
        epilog=TASKS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    study.add_argument("--task", default=DEFAULT_TASK, help="a task below (default: %(default)s)")
    study.add_argument("--methods", type=comma_list(str, "method names"),
                       help=f"comma list (default: {','.join(StudySpec.methods)})")  # fmt: skip
    study.add_argument(
        "--lrs",
        type=comma_list(float, "numbers"),
        help="learning rates α, comma list (default: each method's: Adam 3e-4 … 1e-1, SGD 3e-3 … 1)",
    )
    study.add_argument("--wds", dest="weight_decays", type=comma_list(float, "numbers"),
                       help="weight decays λ for all methods (default: a grid per method, its convention)")  # fmt: skip
    study.add_argument("--epochs", type=positive_int, help="default: the task's")
    study.add_argument("--seeds", type=positive_int, help=f"seeds per grid point (default: {StudySpec.seeds})")
    study.add_argument("--schedule", choices=SCHEDULES, help="η_t over training (default: the task's, cosine)")
    study.add_argument(
        "--warmup", type=fraction, help="linear warm-up over this fraction of the steps (default: the task's)"
    )
    study.add_argument("--out", type=directory, default=None, help="results directory (default: runs/TASK)")

    export = commands.add_parser("export", help="one row per stored run, to stdout (the store is only read)")
    export.add_argument("out", type=directory, metavar="DIR")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--curves", action="store_true", help="one row per epoch of each run instead of per run")
    export.add_argument("--study", choices=("all", "latest"), default="all",
                        help="every stored run (default), or the latest study's grid only")  # fmt: skip

    report = commands.add_parser("report", help="redraw figures and report from stored results (only read)")
    report.add_argument("out", type=directory, metavar="DIR")
    report.add_argument("--to", type=directory, default=None, help="where to write them (default: DIR)")

    check = commands.add_parser(
        "claims", parents=[running], help="run the studies the post's claims need; write OUT/claims.md",
        epilog=CLAIMS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    check.add_argument("--task", default=ROLES["plain"],
                       help="the model without BatchNorm, built in or file.py:fn (default: %(default)s)")  # fmt: skip
    check.add_argument("--bn-task", default=None, help="its BatchNorm twin (default: the built-in pair)")
    check.add_argument("--only", type=comma_list(str, "claim names"), default=None, help="a comma list of claims below")
    check.add_argument("--out", type=directory, default=None, help="results directory (default: runs/claims-TASK)")
    check.add_argument("--quick", action="store_true", help="small grids, one seed, 4 epochs (under 2 minutes)")
    return parser


def study_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.report import write_report

    given = {name: getattr(args, name) for name in SPEC_FLAGS if getattr(args, name) is not None}
    spec = StudySpec(**given)
    out = args.out or Path("runs") / short_name(args.task)
    executor = make_executor(
        args.executor, args.workers, args.device, args.address, args.gpus_per_task, args.connect_timeout
    )
    run_study(spec, out, executor, args.data_dir, progress=not args.quiet)
    print(f"report: {write_report(out)}")


def export_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.export import CURVE_COLUMNS, EXPORT_COLUMNS, curve_rows, export_rows
    from decaylab.analysis.report import latest_runs

    store = ResultStore(args.out, read_only=True)
    try:
        keys = {run["key"] for run in latest_runs(store)[1]} if args.study == "latest" else None
        rows = curve_rows(store, keys) if args.curves else export_rows(store, keys)
    finally:
        store.close()
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        columns = list(rows[0]) if rows else list(CURVE_COLUMNS if args.curves else EXPORT_COLUMNS)
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def claims_command(args: argparse.Namespace) -> None:
    from decaylab.claims.runner import run_claims

    out = args.out or Path("runs") / f"claims-{short_name(args.task)}"
    executor = make_executor(
        args.executor, args.workers, args.device, args.address, args.gpus_per_task, args.connect_timeout
    )
    path = run_claims(out, executor, args.only, args.quick, args.data_dir, not args.quiet, args.task, args.bn_task)
    print(f"claims: {path}")


def report_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.report import write_report

    print(f"report: {write_report(args.out, args.to)}")


SPEC_FLAGS = ("task", "methods", "lrs", "weight_decays", "epochs", "seeds", "schedule", "warmup")
COMMANDS = {"study": study_command, "export": export_command, "report": report_command, "claims": claims_command}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except UsageError as error:
        print(f"decaylab: error: {error}", file=sys.stderr)
        return 2
    except RunFailure as error:
        print(f"decaylab: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`decaylab export DIR | head`)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more to flush to the closed pipe
        return 0
    except KeyboardInterrupt:
        print("decaylab: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
