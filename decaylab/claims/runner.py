"""``decaylab claims``: train what the claims need, then write ``OUT/claims.md`` from the store.

The runner asks every claim for the runs it needs, trains the ones the store lacks (through
the study engine, so an interrupted run resumes), and asks again, since a claim's plan may
depend on results (the best α of a grid); it stops when nothing is missing. Then each claim
checks its statistic against its rule and draws its figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from decaylab.claims import GROUPS, group_of, registry, todays
from decaylab.claims.base import (
    FAILS,
    FULL,
    HOLDS,
    INCONCLUSIVE,
    QUICK,
    ROLES,
    Claim,
    Finding,
    Lab,
    Plan,
    Unmeasured,
    Verdict,
    not_measured,
)
from decaylab.lab.errors import UsageError
from decaylab.lab.execution import Executor
from decaylab.lab.rounds import Planned, exclusive, run_configs
from decaylab.lab.runs import RunConfig
from decaylab.lab.statistics import MIN_SEEDS
from decaylab.lab.store import ResultStore
from decaylab.lab.task.builtin.catalogue import BATCHNORM_TWINS
from decaylab.lab.training.trial import prepare_task

CLAIMS_FILE, FIGURES = "claims.md", "claims"
ROUNDS = 20
"""Grids, the runs that depend on their best cells, and the λ* searches' rounds (a bracket, up to three
extensions, two refinements) after either: more would mean a plan that depends on itself."""


class NoTask(Exception):
    """A claim needs a task role that has no task (a user's task without a BatchNorm twin)."""


def select(names: Sequence[str] | None, group: str = "post") -> list[Claim]:
    """The claims ``names``, or every claim of ``group`` (:data:`~decaylab.claims.GROUPS`)."""
    claims = registry()
    unknown = [name for name in names or () if name not in claims]
    if unknown:
        raise UsageError(f"unknown claim {unknown[0]!r} in --only; choose from {', '.join(claims)}")
    if names:
        return [claims[name] for name in names]
    return [claim for claim in claims.values() if group_of(claim.position) == group]


class RoleSpecs(dict[str, str]):
    def __missing__(self, role: str) -> str:
        raise NoTask(role)


def run_claims(
    out: Path,
    executor: Executor,
    names: Sequence[str] | None = None,
    quick: bool = False,
    data_dir: Path | None = None,
    progress: bool = True,
    task: str = ROLES["plain"],
    bn_task: str | None = None,
    group: str = "post",
) -> Path:
    """Run (or resume) what the selected claims need (``names``, or those of ``group``) and write
    ``OUT/claims.md``; return its path."""
    claims = select(names, group)
    bn = bn_task or BATCHNORM_TWINS.get(task)
    specs = RoleSpecs({**ROLES, "plain": task, **({"bn": bn} if bn else {})})
    plan = QUICK if quick else FULL
    figures = out / FIGURES
    for role in ("plain", "bn"):  # the user's tasks fail here, before anything is written
        if role in specs:
            prepare_task(specs[role], data_dir)
    with exclusive(out):
        figures.mkdir(exist_ok=True)
        store = ResultStore(out)
        try:
            lab = Lab(store, plan, specs, data_dir, out)
            executor.start()
            _train_until_complete(lab, claims, executor, progress)
            findings = {claim.name: _check(claim, lab, figures) for claim in claims}
        finally:
            executor.stop()
            store.close()
    path = out / CLAIMS_FILE
    groups = {group_of(claim.position) for claim in claims}  # --only: its claims' group, if they share one
    path.write_text(markdown(claims, findings, lab, specs, groups.pop() if len(groups) == 1 else None))
    return path


def _wanted(lab: Lab, claims: list[Claim]) -> dict[str, RunConfig]:
    wanted: dict[str, RunConfig] = {}
    for claim in claims:
        try:
            wanted.update((run.key, run) for run in claim.runs(lab))
        except NoTask:
            continue  # checked (and reported as not measured) later
    return wanted


def _train_until_complete(lab: Lab, claims: list[Claim], executor: Executor, progress: bool) -> None:
    for _ in range(ROUNDS + 1):  # + 1: a round interrupted before is finished first
        missing = [run for key, run in _wanted(lab, claims).items() if key not in lab.finished]
        if not missing:
            return
        by_task: dict[str, list[RunConfig]] = {}
        for run in missing:
            by_task.setdefault(run.task, []).append(run)
        planned = [Planned(*lab.task_and_job(identity), runs) for identity, runs in by_task.items()]
        run_configs(planned, lab.store, executor, progress, label="claims")
        lab.refresh()
    raise RuntimeError("the claims kept asking for new runs: a plan that depends on itself")


def _check(claim: Claim, lab: Lab, figures: Path) -> Finding:
    """Measure → verdict → draw."""
    try:
        measured = claim.measure(lab)
    except NoTask as missing:
        return Finding([not_measured(claim.title, f"needs a task for the role {missing} (--bn-task)")])
    if isinstance(measured, Unmeasured):
        return Finding([not_measured(measured.claim, measured.reason)])
    verdicts, details = claim.judge(measured)
    if lab.plan.seeds < MIN_SEEDS:  # a verdict never rests on fewer seeds: report what the rule would say
        verdicts = [undecided(verdict, lab.plan.seeds) for verdict in verdicts]
    return Finding(verdicts, claim.draw(measured, figures), details)


def undecided(verdict: Verdict, seeds: int) -> Verdict:
    """``verdict`` left inconclusive: fewer than :data:`MIN_SEEDS` seeds decide nothing."""
    if verdict.verdict == INCONCLUSIVE:
        return verdict
    reason = f"{verdict.rule}; with {seeds} seed(s) it would read '{verdict.verdict}', but a verdict needs {MIN_SEEDS}"
    return replace(verdict, verdict=INCONCLUSIVE, rule=reason)


def smoke_note(plan: Plan) -> str:
    """What a ``--quick`` run trained instead of the procedure above it: said under every claim, so no figure or
    number of a smoke run reads as the full measurement."""
    return (
        f"*This smoke run (--quick) trained less than that: {plan.seeds} seed(s), {plan.epochs} epochs "
        f"(charlm's claims: 1 epoch on its first {todays.QUICK_EXAMPLES} sequences), cut grids. It checks the "
        "plumbing; its numbers are not the measurement.*"
    )


def markdown(
    claims: list[Claim], findings: dict[str, Finding], lab: Lab, specs: dict[str, str], group: str | None = "post"
) -> str:
    verdicts = [v for finding in findings.values() for v in finding.verdicts]
    counts = {v: sum(x.verdict == v for x in verdicts) for v in (HOLDS, FAILS, INCONCLUSIVE)}
    plan = lab.plan
    quick = f"Quick run (--quick): small grids, one seed, {plan.epochs} epochs; verdicts are indicative. "
    size = quick if plan.quick else ""
    size += f"{plan.seeds} seed(s) per grid point; tasks: " + ", ".join(
        f"{role} = {spec}" for role, spec in specs.items()
    )
    lines = [
        f"# {GROUPS[group] if group else 'Claims of several sets'}, checked",
        "",
        f"{size}. Verdicts: {counts[HOLDS]} hold, {counts[FAILS]} do not hold, {counts[INCONCLUSIVE]} inconclusive.",
        "",
        "## Scoreboard",
        "",
        "| # | claim | source | verdict | measured |",
        "|---|---|---|---|---|",
    ]
    for number, claim in enumerate(claims, 1):
        for verdict in findings[claim.name].verdicts:
            lines.append(
                f"| {number} | {verdict.claim} | {claim.source} | **{verdict.verdict}** | {verdict.statistic} |"
            )
    for number, claim in enumerate(claims, 1):
        finding = findings[claim.name]
        lines += ["", f"## {number}. {claim.title}", "", f"*{claim.source}.* {claim.procedure}", ""]
        if plan.quick:
            lines += [smoke_note(plan), ""]
        lines += [f"![{claim.title}]({FIGURES}/{figure})" for figure in finding.figures]
        lines += ["", "| claim | measured | verdict | rule |", "|---|---|---|---|"]
        lines += [f"| {v.claim} | {v.statistic} | **{v.verdict}** | {v.rule} |" for v in finding.verdicts]
        if finding.details:
            lines += ["", *finding.details]
    lines.append("")
    return "\n".join(lines)
