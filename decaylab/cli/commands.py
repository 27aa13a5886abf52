"""Each command of ``decaylab``: its parser (built only when it runs) and what it does."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from decaylab.lab.errors import UsageError

if TYPE_CHECKING:
    pass

from decaylab.cli.arguments import (
    OneLineParser,
    add_practice_options,
    add_running_options,
    comma_list,
    directory,
    executor_of,
    fraction,
    nonnegative_number,
    positive_int,
    positive_number,
    practice_of,
    target_values,
)


def command_parser(name: str, epilog: str = "") -> OneLineParser:
    return OneLineParser(
        prog=f"decaylab {name}",
        description=COMMANDS[name].summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def study_parser() -> OneLineParser:
    from decaylab.lab.study import DEFAULT_METHODS, StudySpec
    from decaylab.lab.task.builtin.catalogue import BUILT_IN, DEFAULT_TASK
    from decaylab.lab.task.schedules import SCHEDULES

    tasks = "\n".join(f"  {name:<22} {built_in.description}" for name, built_in in BUILT_IN.items())
    epilog = f"tasks:\n{tasks}\n  path/to/file.py:make_task  your own: make_task() returns a decaylab.Task"
    parser = command_parser("study", epilog)
    add_running_options(parser)
    parser.add_argument("--task", default=DEFAULT_TASK, help="a task below (default: %(default)s)")
    parser.add_argument(
        "--methods", type=comma_list(str, "method names"), help=f"comma list (default: {','.join(DEFAULT_METHODS)})"
    )
    lrs = "learning rates α, comma list (default: each method's: Adam 3e-4 … 1e-1, SGD 3e-3 … 1)"
    parser.add_argument("--lrs", type=comma_list(float, "numbers"), help=lrs)
    wds = "weight decays λ for all methods (default: a grid per method, its convention)"
    parser.add_argument("--wds", dest="weight_decays", type=comma_list(float, "numbers"), help=wds)
    parser.add_argument("--epochs", type=positive_int, help="default: the task's")
    parser.add_argument("--seeds", type=positive_int, help=f"seeds per grid point (default: {StudySpec.seeds})")
    parser.add_argument("--schedule", choices=SCHEDULES, help="η_t over training (default: the task's, cosine)")
    parser.add_argument(
        "--warmup", type=fraction, help="linear warm-up over this fraction of the steps (default: the task's)"
    )
    add_practice_options(parser)
    parser.add_argument("--out", type=directory, default=None, help="results directory (default: runs/TASK)")
    parser.add_argument(
        "--keep",
        choices=("none", "best", "all"),
        default="none",
        help="keep trained weights in OUT/weights: each method's best cell, or every run (default: none)",
    )
    return parser


def weights_parser() -> OneLineParser:
    parser = command_parser("weights")
    parser.add_argument("out", type=directory, metavar="DIR")
    parser.add_argument("--method", default=None)
    parser.add_argument("--lr", type=positive_number, default=None)
    parser.add_argument("--wd", dest="weight_decay", type=nonnegative_number, default=None)
    parser.add_argument("--seed", type=int, default=None)
    return parser


def reproduce_parser() -> OneLineParser:
    parser = command_parser("reproduce")
    parser.add_argument("out", type=directory, metavar="DIR")
    parser.add_argument("key", metavar="KEY", help="a run's key (`decaylab export DIR` lists them)")
    return parser


def export_parser() -> OneLineParser:
    parser = command_parser("export")
    parser.add_argument("out", type=directory, metavar="DIR")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--curves", action="store_true", help="one row per epoch of each run instead of per run")
    parser.add_argument(
        "--study",
        choices=("all", "latest"),
        default="all",
        help="every stored run (default), or the latest study's grid only",
    )
    return parser


def report_parser() -> OneLineParser:
    parser = command_parser("report")
    parser.add_argument("out", type=directory, metavar="DIR")
    parser.add_argument("--to", type=directory, default=None, help="where to write them (default: DIR)")
    return parser


def claims_parser() -> OneLineParser:
    from decaylab.claims import registry
    from decaylab.claims.base import ROLES

    listed = "\n".join(f"  {name:<11} {claim.title} ({claim.source})" for name, claim in registry().items())
    groups = "muon-lion-decoupling: --todays-decoupling; muon-rms to muon-scale: --todays; the last three: --practice"
    parser = command_parser("claims", f"claims (--only; {groups}):\n{listed}")
    add_running_options(parser)
    parser.add_argument(
        "--task",
        default=ROLES["plain"],
        help="the model without BatchNorm, built in or file.py:fn (default: %(default)s)",
    )
    parser.add_argument("--bn-task", default=None, help="its BatchNorm twin (default: the built-in pair)")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--only", type=comma_list(str, "claim names"), default=None, help="a comma list of claims below"
    )
    todays = "the claims on today's optimizers (Muon's RMS, cautious decay, norms, ℓ2) instead of the post's"
    chosen.add_argument("--todays", action="store_true", help=todays)
    decoupling = "decoupling of α and λ under Muon and Lion instead (its own budget)"
    chosen.add_argument("--todays-decoupling", action="store_true", help=decoupling)
    practice = "the practitioners' questions (which parameters, λ's schedule, Muon's Adam half) instead"
    chosen.add_argument("--practice", action="store_true", help=practice)
    where = "results directory (default: runs/claims-TASK, or runs/claims-SET for the sets above)"
    parser.add_argument("--out", type=directory, default=None, help=where)
    quick = "a smoke run: small grids, one seed, 2 epochs (under 2 minutes)"
    parser.add_argument("--quick", action="store_true", help=quick)
    return parser


def transfer_parser() -> OneLineParser:
    from decaylab.lab.task.builtin.catalogue import DEFAULT_TASK
    from decaylab.lab.transfer.axes import AXES, DEFAULT_AXES, LABELS
    from decaylab.optim import METHODS

    tasks = "\n".join(
        f"  {name:<15} " + ", ".join(f"{axis} {'/'.join(f'{v:g}' for v in values)}" for axis, values in axes.items())
        for name, axes in DEFAULT_AXES.items()
    )
    epilog = f"default axes (the last value of each is held out, predicted and then measured):\n{tasks}"
    epilog += "\n  your own task   N: an eighth to all of its training set; epochs: a quarter to twice its own"
    parser = command_parser("transfer", epilog)
    add_running_options(parser)
    parser.add_argument(
        "--task", default=DEFAULT_TASK, help="a built-in task or path/to/file.py:make_task (default: %(default)s)"
    )
    parser.add_argument(
        "--method",
        default="adamw",
        choices=METHODS,
        metavar="METHOD",
        help="the rule whose λ to transfer (default: %(default)s, paper form)",
    )
    parser.add_argument(
        "--axes", type=comma_list(str, "axis names"), help=f"which axes, of {', '.join(LABELS)} (default: the task's)"
    )
    for axis in AXES.values():
        kind = positive_int if axis.whole else float
        help_text = f"values of {axis.label} (adds the axis)"
        parser.add_argument(axis.flag, dest=f"axis_{axis.name}", type=comma_list(kind, "numbers"), help=help_text)
    parser.add_argument(
        "--lr",
        type=positive_number,
        default=None,
        help="the base learning rate α (default: found by a short scan of the method's α grid at the base setting)",
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=None, help="seeds per setting (default: 5, 3 with --quick)"
    )
    parser.add_argument(
        "--to",
        type=target_values,
        default=None,
        metavar="AXIS=VALUE,…",
        help="the target setting, e.g. N=64000,epochs=30",
    )
    parser.add_argument("--verify", action="store_true", help="also measure λ* at the target")
    add_practice_options(parser)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: a quarter of the data, 6 epochs, two short axes, 3 seeds"
    )
    parser.add_argument(
        "--out", type=directory, default=None, help="results directory (default: runs/transfer-TASK-METHOD)"
    )
    return parser


def study_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.members import KEEP
    from decaylab.analysis.report import write_report
    from decaylab.lab.study import StudySpec, run_study
    from decaylab.lab.task.loading import folder_name, short_name

    given = {name: getattr(args, name) for name in SPEC_FLAGS if getattr(args, name) is not None}
    spec = StudySpec(**given, practice=practice_of(args))
    for note in spec.notes():
        print(f"decaylab: {note}", file=sys.stderr)
    out = args.out or Path("runs") / folder_name(short_name(args.task))
    run_study(spec, out, executor_of(args), args.data_dir, progress=not args.quiet, keep=KEEP[args.keep])
    print(f"report: {write_report(out)}")
    if args.keep != "none":
        print(f"weights: {out / 'weights'} (`decaylab weights {out}` lists them)")


def weights_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.members import kept

    where = {name: getattr(args, name) for name in ("method", "lr", "weight_decay", "seed")}
    found = kept(args.out, **where)
    if not found:
        every = kept(args.out)
        if not every:
            raise UsageError(
                f"no kept weights in {args.out}; `decaylab study --keep best` (or all) keeps them "
                "(transfer and claims keep none)"
            )
        asked = ", ".join(
            f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
            for name, value in where.items()
            if value is not None
        )
        methods = ", ".join(sorted({row["method"] for row in every}))
        raise UsageError(
            f"no kept weights match {asked}; {len(every)} are kept, of {methods} "
            f"(`decaylab weights {args.out}` lists them)"
        )
    print("method,lr,weight_decay,seed,test_metric,key,weights")
    for row in found:
        fields = [row["method"], row["lr"], row["weight_decay"], row["seed"], row["test_metric"], row["key"]]
        print(",".join(map(str, [*fields, row["weights"]])))
    print(f"# load one: decaylab.load_member({str(args.out)!r}, key={found[0]['key']!r})", file=sys.stderr)


def reproduce_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.members import JUDGED, TOLERANCE, relative, reproduce

    result = reproduce(args.out, args.key)
    print(f"run {result.key}, trained again alone in a plain PyTorch loop")
    print(f"{'':<24} {'stored':>14} {'reproduced':>14} {'relative difference':>20}  judged")
    for what, stored, again in result.compared:
        judged = "yes" if what in JUDGED else ""
        print(f"{what:<24} {stored:>14.8g} {again:>14.8g} {relative(stored, again):>20.1e}  {judged}")
    verdict = "match" if result.matches else "DIFFER"
    print(
        f"the judged numbers {verdict} ({', '.join(JUDGED)}): largest relative difference "
        f"{result.largest_difference:.1e} (tolerance {TOLERANCE:g}). The others are shown, not judged: a metric "
        "that counts examples moves by one where rounding tips a near-tie (docs/design-notes.md)"
    )
    if not result.matches:
        print(f"decaylab: run {result.key} does not reproduce", file=sys.stderr)
        raise SystemExit(1)


def export_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.export import CURVE_COLUMNS, EXPORT_COLUMNS, curve_rows, export_rows, spreadsheet_safe
    from decaylab.analysis.report import latest_runs
    from decaylab.lab.store import ResultStore

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
        writer.writerows(spreadsheet_safe(row) for row in rows)


def claims_command(args: argparse.Namespace) -> None:
    from decaylab.claims.runner import run_claims
    from decaylab.lab.task.loading import folder_name, short_name

    flags = {"todays": args.todays, "todays-decoupling": args.todays_decoupling, "practice": args.practice}
    group = next((name for name, given in flags.items() if given), "post")
    default = f"claims-{short_name(args.task)}" if group == "post" else f"claims-{group}"
    out = args.out or Path("runs") / folder_name(default)
    executor, progress = executor_of(args), not args.quiet
    path = run_claims(out, executor, args.only, args.quick, args.data_dir, progress, args.task, args.bn_task, group)
    print(f"claims: {path}")


def transfer_command(args: argparse.Namespace) -> None:
    from decaylab.api import transfer
    from decaylab.lab.statistics import MIN_SEEDS

    if args.seeds is not None and 1 <= args.seeds < MIN_SEEDS:
        print(
            f"decaylab: with {args.seeds} seed(s) λ* and the laws get no 95% interval (it needs {MIN_SEEDS})",
            file=sys.stderr,
        )
    axes = {axis[len("axis_") :]: values for axis, values in vars(args).items() if axis.startswith("axis_") and values}
    result = transfer(
        args.task,
        method=args.method,
        axes=args.axes,
        values=axes,
        lr=args.lr,
        seeds=args.seeds,
        to=args.to,
        verify=args.verify,
        quick=args.quick,
        out=args.out,
        practice=practice_of(args),
        executor=executor_of(args),
        data_dir=args.data_dir,
        progress=not args.quiet,
    )
    print(repr(result))


def report_command(args: argparse.Namespace) -> None:
    from decaylab.analysis.report import write_report

    print(f"report: {write_report(args.out, args.to)}")


@dataclass(frozen=True)
class Command:
    summary: str
    parser: Callable[[], OneLineParser]
    run: Callable[[argparse.Namespace], None]


SPEC_FLAGS = ("task", "methods", "lrs", "weight_decays", "epochs", "seeds", "schedule", "warmup")
COMMANDS = {
    "study": Command("run (or resume) a study, then write its report", study_parser, study_command),
    "export": Command("one row per stored run, to stdout (the store is only read)", export_parser, export_command),
    "report": Command("redraw figures and report from stored results (only read)", report_parser, report_command),
    "weights": Command("list the trained members a study kept (--keep), as CSV", weights_parser, weights_command),
    "reproduce": Command(
        "train one stored run again in a plain PyTorch loop and compare its numbers",
        reproduce_parser,
        reproduce_command,
    ),
    "claims": Command("run the studies the post's claims need; write OUT/claims.md", claims_parser, claims_command),
    "transfer": Command(
        "which λ at my scale: λ* laws along data, length, batch, α and width", transfer_parser, transfer_command
    ),
}
