"""``decaylab claims``: run the studies the post's claims need, then write ``OUT/claims.md``.

Stage 1 trains the lr × λ grids (the task, and its BatchNorm counterpart); stage 2 the runs
that depend on their best learning rate: other training lengths, the loss multiplied by
``c``, and constant-schedule runs that record BatchNorm-fed weights. Every run goes through
the study store, so an interrupted ``claims`` resumes like a study.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from decaylab.analysis import claims
from decaylab.analysis.cells import Cell, MethodGrid, method_grids
from decaylab.analysis.claims import INCONCLUSIVE, Verdict
from decaylab.analysis.figures import draw_heatmaps, format_value
from decaylab.lab.executors import Executor
from decaylab.lab.schedules import cosine
from decaylab.lab.stacking import StackedModel
from decaylab.lab.store import ResultStore
from decaylab.lab.study import exclusive, job_of, prepare_task, run_config, run_configs
from decaylab.lab.tasks import Task
from decaylab.lab.train import RunConfig
from decaylab.optim import METHODS, make_optimizer

BATCHNORM_PAIRS = {
    "mnist1d-mlp": "mnist1d-mlp-bn",
    "mnist1d-cnn": "mnist1d-cnn-bn",
    "cifar10-resnet20-nobn": "cifar10-resnet20",
}
EXPECTED = {"adamw": "decoupled", "proxadam": "decoupled", "adamw-torch": "coupled", "adaml2": "coupled"}
GRID_METHODS = ("adamw", "adamw-torch", "proxadam", "adaml2", "adamp")
SCALE_METHODS = {"adamw": False, "proxadam": False, "adaml2": True, "adamp": True}  # coupled to the loss scale?
LOSS_SCALES = (1.0, 10.0, 100.0)
ROTATION_DECAY = 1e-2
"""Paper-form λ of the rotation runs: a per-step decay whose equilibrium is reached in ~300 steps."""
SMALL_EPS = 1e-12
CLAIMS, FIGURES = "claims.md", "claims"


@dataclass(frozen=True)
class Plan:
    """How big the claim studies are."""

    seeds: int
    epochs: int | None
    lrs: tuple[float, ...]
    keep_decays: int
    """How many of each method's default λ values to keep (the zero and the largest ones)."""


FULL = Plan(seeds=3, epochs=None, lrs=METHODS["adamw"].default_lrs, keep_decays=6)
QUICK = Plan(seeds=1, epochs=8, lrs=(1e-3, 3e-3, 1e-2, 3e-2), keep_decays=4)


def decays_for(method: str, plan: Plan) -> tuple[float, ...]:
    grid = METHODS[method].default_weight_decays
    return (grid[0], *grid[len(grid) - plan.keep_decays + 1 :])


def grid_runs(task: Task, epochs: int, methods: Sequence[str], plan: Plan) -> list[RunConfig]:
    return [
        run_config(task, method, lr, decay, seed, epochs=epochs)
        for method in methods
        for seed in range(plan.seeds)
        for decay in decays_for(method, plan)
        for lr in plan.lrs
    ]


def grids(store: ResultStore, runs: Sequence[RunConfig], methods: Sequence[str]) -> dict[str, MethodGrid]:
    return {grid.method: grid for grid in method_grids(store.runs([r.key for r in runs]), methods)}


def _mean_curve(store: ResultStore, cell: Cell, column: int) -> list[float]:
    curves = [store.curves(run["key"]) for run in cell.runs if run["status"] == "done"]
    length = min(len(c) for c in curves)
    return [statistics.fmean(c[i][column] for c in curves) for i in range(length)]


def run_claims(
    task_name: str, out: Path, executor: Executor, quick: bool = False, data_dir: Path | None = None,
    progress: bool = True, bn_task_name: str | None = None,
) -> Path:  # fmt: skip
    """Run (or resume) every study the checks need and write ``OUT/claims.md``.

    ``bn_task_name`` is the task's BatchNorm counterpart (default: the built-in pair, if any).
    """
    plan = QUICK if quick else FULL
    bn_name = bn_task_name or BATCHNORM_PAIRS.get(task_name)
    task = prepare_task(task_name, data_dir)
    epochs = plan.epochs or task.epochs
    bn = (bn_name, prepare_task(bn_name, data_dir)) if bn_name else None  # loaded now: a bad name fails at once
    with exclusive(out):
        figures = out / FIGURES
        figures.mkdir(parents=True, exist_ok=True)
        store = ResultStore(out)
        try:
            executor.start()
            main = grid_runs(task, epochs, GRID_METHODS, plan)
            job = job_of(task_name, task, data_dir, out)
            run_configs(main, task, job, store, executor, progress, "grids")
            off = grids(store, main, GRID_METHODS)
            verdicts: dict[str, list[Verdict]] = {}

            draw_heatmaps(list(off.values()), figures / "heatmaps.png", f"{task.name}: test accuracy, {epochs} epochs")
            verdicts["1"] = [claims.decoupling(off[m], expect) for m, expect in EXPECTED.items()]
            _ridge_figure(off, figures / "ridge.png")

            best_adamw = off["adamw"].best()
            assert best_adamw is not None, "every AdamW run diverged"
            alpha = best_adamw.lr

            on: dict[str, MethodGrid] = {}
            if bn is not None:
                bn_spec, bn_task = bn
                bn_runs = grid_runs(bn_task, epochs, ("adamw", "adaml2"), plan)
                bn_job = job_of(bn_spec, bn_task, data_dir, out)
                run_configs(bn_runs, bn_task, bn_job, store, executor, progress, "grids with BatchNorm")
                on = grids(store, bn_runs, ("adamw", "adaml2"))
                draw_heatmaps(list(on.values()), figures / "heatmaps_bn.png", f"{bn_task.name}: test accuracy")
            verdicts["2"] = _batchnorm_verdicts(off, on)

            lengths = sorted({max(1, epochs // 4), max(1, epochs // 2)} - {epochs})
            length_runs = [
                run_config(task, "adamw", alpha, d, seed, epochs=length)
                for length in lengths for d in decays_for("adamw", plan) for seed in range(plan.seeds)
            ]  # fmt: skip
            scale_runs = [
                run_config(task, m, alpha, d, seed, epochs=epochs, eps=SMALL_EPS, loss_scale=c)
                for m in SCALE_METHODS for c in LOSS_SCALES for d in decays_for(m, plan) for seed in range(plan.seeds)
            ]  # fmt: skip
            run_configs(length_runs + scale_runs, task, job, store, executor, progress, "derived runs")
            verdicts["3"] = _late_verdicts(store, off, length_runs, lengths, epochs, alpha, figures / "late.png")
            verdicts["4"] = [_prox_verdict(task, alpha, epochs, figures / "prox.png")]
            verdicts["5"] = _scale_verdicts(store, scale_runs, figures / "scale.png")

            if bn is not None and on:
                bn_spec, bn_task = bn
                rotation_runs = _rotation_runs(bn_task, on, epochs, plan)
                flat = [run for group in rotation_runs.values() for run in group]
                run_configs(flat, bn_task, bn_job, store, executor, progress, "rotation runs")
                steps_per_epoch = math.ceil(len(bn_task.train[0]) / flat[0].batch_size)
                verdicts["6"] = _rotation_verdicts(store, rotation_runs, steps_per_epoch, figures / "rotation.png")
            else:
                verdicts["6"] = [Verdict("effective learning rate under BN", "no BatchNorm counterpart", INCONCLUSIVE,
                                         f"{task_name} has no built-in BatchNorm pair")]  # fmt: skip
        finally:
            executor.stop()
            store.close()
    path = out / CLAIMS
    path.write_text(_markdown(task.name, bn_name, epochs, plan, quick, verdicts))
    return path


def _ridge_figure(grids_by_method: dict[str, MethodGrid], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for method, grid in grids_by_method.items():
        fit = claims.ridge(grid)
        if fit is None or not fit.log_lrs:
            continue
        line = axis.plot(fit.log_lrs, fit.log_decays, "o-", label=f"{method} (s = {fit.slope:+.2f})")
        if method == "adamw-torch" and len(fit.log_lrs) > 1:  # the paper-form equivalent: λ_paper = α·λ_torch
            axis.plot(fit.log_lrs, [d + a for a, d in zip(fit.log_lrs, fit.log_decays, strict=True)], ":",
                      color=line[0].get_color(), label="adamw-torch as α·λ (paper units)")  # fmt: skip
    axis.set(xlabel="log10 α (good columns)", ylabel="log10 λ* (each method's own units)",
             title="ridge of the heatmaps: best λ per learning rate")  # fmt: skip
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def _batchnorm_verdicts(off: dict[str, MethodGrid], on: dict[str, MethodGrid]) -> list[Verdict]:
    verdicts = []
    best_w, best_l2 = off["adamw"].best(), off["adaml2"].best()
    if best_w and best_l2:
        verdicts.append(claims.better("without BN, AdamW beats AdamL2 (best cells, paired)", best_w, best_l2))
    if on:
        best_w, best_l2 = on["adamw"].best(), on["adaml2"].best()
        if best_w and best_l2:
            verdicts.append(claims.on_par("with BN, AdamW and AdamL2 are on par (best cells, paired)", best_w, best_l2))
            no_decay = max(
                (on["adamw"].cell(0.0, lr) for lr in on["adamw"].lrs),
                key=lambda c: c.mean("val_metric") if math.isfinite(c.mean("val_metric")) else -1,
            )
            verdicts.append(claims.on_par("with BN, λ = 0 is competitive (best AdamW cell vs best λ = 0)",
                                          best_w, no_decay))  # fmt: skip
    else:
        verdicts.append(Verdict("with BN, AdamW and AdamL2 are on par", "no BatchNorm counterpart", INCONCLUSIVE,
                                "the task has no built-in BatchNorm pair"))  # fmt: skip
    return verdicts


def _late_verdicts(
    store: ResultStore, off: dict[str, MethodGrid], length_runs: list[RunConfig], lengths: list[int],
    epochs: int, alpha: float, path: Path,
) -> list[Verdict]:  # fmt: skip
    best_w, best_l2 = off["adamw"].best(), off["adaml2"].best()
    assert best_w is not None and best_l2 is not None
    accuracy_w, accuracy_l2 = _mean_curve(store, best_w, 3), _mean_curve(store, best_l2, 3)
    gap = [a - b for a, b in zip(accuracy_w, accuracy_l2, strict=False)]
    epoch_axis = list(range(1, len(gap) + 1))

    log_decays, used = [], []
    for length in [*lengths, epochs]:
        runs = [r for r in length_runs if r.epochs == length]
        grid = grids(store, runs, ("adamw",))["adamw"] if runs else off["adamw"]
        column = [grid.cell(d, alpha).mean("val_metric") for d in grid.weight_decays]
        log_decay = claims.best_log_decay(grid.weight_decays, column, interior=True)
        if log_decay is not None:  # at the grid's edge λ* is only bounded: left out
            log_decays.append(log_decay)
            used.append(length)

    figure, (gap_axis, length_axis) = plt.subplots(1, 2, figsize=(11, 4))
    gap_axis.plot(epoch_axis, [100 * g for g in gap])
    gap_axis.axhline(0, color="0.5", linewidth=0.8)
    gap_axis.set(xlabel="epoch", ylabel="AdamW − AdamL2 test accuracy (points)",
                 title="best AdamW cell minus best AdamL2 cell")  # fmt: skip
    length_axis.plot(used, log_decays, "o-")
    length_axis.set(xscale="log", xlabel="training length T (epochs)", ylabel="log10 λ* (paper AdamW)",
                    title=f"best λ against training length at α = {format_value(alpha)}")  # fmt: skip
    for axis in (gap_axis, length_axis):
        axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return [claims.late_improvement(epoch_axis, gap), claims.decay_vs_length(used, log_decays)]


STEP_GAP_DECAYS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


def step_gaps(task: Task, lr: float, decays: Sequence[float], epochs: int, seed: int = 0) -> list[float]:
    """How far a ProxAdam step lands from the AdamW step it replaces, relative to the step, per ``λ``.

    Paper-form AdamW trains (cosine schedule, float64); once per epoch a ProxAdam step is taken
    from its exact state (weights, moments through ``state_dict``, gradient), and
    ``‖w_ProxAdam − w_AdamW‖ / ‖w_AdamW − w‖`` is recorded; the mean over the run is returned.
    Comparing whole trajectories instead measures nothing about the rules: Adam divides by
    ``√v̂``, so any perturbation grows to O(lr) on coordinates with small gradients within a
    few steps, whatever its origin.
    """
    decay = torch.tensor(decays, dtype=torch.float64)
    base_lr = torch.full((len(decays),), lr, dtype=torch.float64)
    torch.manual_seed(seed)
    model = StackedModel(task.make_model().double(), len(decays))
    adamw = make_optimizer("adamw", model.param_groups(decay), lr=base_lr)
    batches = torch.Generator().manual_seed(seed)
    train_x, train_y = task.train
    steps_per_epoch = math.ceil(len(train_x) / task.batch_size)
    gaps = []
    for step in range(epochs * steps_per_epoch):
        for group in adamw.param_groups:
            group["lr"] = cosine(step, epochs * steps_per_epoch)
        index = torch.randint(len(train_x), (task.batch_size,), generator=batches)
        x = train_x[index].double() if train_x.is_floating_point() else train_x[index]
        model.per_member(task.objective, model(x), train_y[index]).sum().backward()
        if step % steps_per_epoch == 0:
            twin = StackedModel(model.module, len(decays))
            twin.load_state_dict(model.state_dict())
            for name, param in model.parameters.items():
                twin.parameters[name].grad = None if param.grad is None else param.grad.clone()
            prox = make_optimizer("proxadam", twin.param_groups(decay), lr=base_lr)
            prox.load_state_dict(copy.deepcopy(adamw.state_dict()))  # same moments, lr and λ
            prox.step()
            before = _flat(model)
        adamw.step()
        adamw.zero_grad()
        if step % steps_per_epoch == 0:
            after = _flat(model)
            gaps.append((_flat(twin) - after).norm(dim=1) / (after - before).norm(dim=1))
    return torch.stack(gaps).mean(0).tolist()


def _flat(model: StackedModel) -> torch.Tensor:
    return torch.cat([p.detach().flatten(1) for p in model.parameters.values()], 1)


def _prox_verdict(task: Task, alpha: float, epochs: int, path: Path) -> Verdict:
    gaps = step_gaps(task, alpha, STEP_GAP_DECAYS, epochs)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.loglog(STEP_GAP_DECAYS, [100 * g for g in gaps], "o-", label="measured, mean over training")
    axis.loglog(STEP_GAP_DECAYS, [100 * d for d in STEP_GAP_DECAYS], ":", color="0.5", label="η·λ (first order)")
    axis.set(xlabel="λ (decay per step at η = 1)", ylabel="‖ProxAdam step − AdamW step‖ / ‖step‖ (%)",
             title=f"one ProxAdam step from AdamW's state, α = {format_value(alpha)}")  # fmt: skip
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return claims.trajectories_close(list(STEP_GAP_DECAYS), gaps)


def _scale_verdicts(store: ResultStore, scale_runs: list[RunConfig], path: Path) -> list[Verdict]:
    verdicts = []
    figure, axes = plt.subplots(1, len(SCALE_METHODS), figsize=(4 * len(SCALE_METHODS), 3.6), squeeze=False)
    for axis, (method, coupled) in zip(axes[0], SCALE_METHODS.items(), strict=True):
        best: dict[float, float] = {}
        for scale in LOSS_SCALES:
            runs = [r for r in scale_runs if r.method == method and r.loss_scale == scale]
            grid = grids(store, runs, (method,))[method]
            lr = grid.lrs[0]
            decays = [d for d in grid.weight_decays if d > 0]
            accuracies = [grid.cell(d, lr).mean("val_metric") for d in decays]
            axis.semilogx(decays, [100 * a for a in accuracies], "o-", label=f"loss × {scale:g}")
            log_decay = claims.best_log_decay(decays, accuracies)
            best[scale] = log_decay if log_decay is not None else math.nan
        for scale in LOSS_SCALES[1:]:
            expected = math.log10(scale) if coupled else 0.0
            verdicts.append(claims.decay_shift(method, scale, best[scale] - best[1.0], expected))
        axis.set(xlabel="λ", ylabel="test accuracy (%)", title=f"{method} (ε = {SMALL_EPS:g})")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return verdicts


def _rotation_runs(task: Task, on: dict[str, MethodGrid], epochs: int, plan: Plan) -> dict[str, list[RunConfig]]:
    """Constant-schedule runs on the BN task at its best α: AdamW with and without decay, AdamL2."""
    best_w, best_l2 = on["adamw"].best(), on["adaml2"].best()
    assert best_w is not None and best_l2 is not None
    l2_decay = best_l2.weight_decay or METHODS["adaml2"].default_weight_decays[3]  # λ = 0 would make it plain Adam
    settings = {
        "AdamW, λ > 0": ("adamw", ROTATION_DECAY),
        "AdamW, λ = 0": ("adamw", 0.0),
        "AdamL2": ("adaml2", l2_decay),
    }
    return {
        label: [
            run_config(task, m, best_w.lr, d, seed, epochs=epochs, schedule="constant", warmup=0.0)
            for seed in range(plan.seeds)
        ]
        for label, (m, d) in settings.items()
    }


Series = dict[str, tuple[list[float], list[float]]]
"""Per BN-fed layer: its norm and its rotation per step, one value per epoch."""


def _layer_series(store: ResultStore, runs: list[RunConfig]) -> Series:
    """Each layer's norm and rotation per epoch, averaged over the runs' seeds."""
    per_layer: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for run in runs:
        for epoch, layer, norm, rotation in store.layers(run.key):
            per_layer.setdefault(layer, {}).setdefault(epoch, []).append((norm, rotation))
    return {
        layer: (
            [statistics.fmean(n for n, _ in by_epoch[e]) for e in sorted(by_epoch)],
            [statistics.fmean(r for _, r in by_epoch[e]) for e in sorted(by_epoch)],
        )
        for layer, by_epoch in per_layer.items()
    }


def _late_mean(values: list[float]) -> float:
    """Mean over the last fifth of training (at least one epoch)."""
    return statistics.fmean(values[-max(1, len(values) // 5) :])


def _spread(series: Series) -> float:
    """max/min of the late rotation across layers."""
    late = [_late_mean(rotations) for _, rotations in series.values()]
    return max(late) / min(late)


def _rotation_verdicts(
    store: ResultStore, runs: dict[str, list[RunConfig]], steps_per_epoch: int, path: Path
) -> list[Verdict]:
    series = {label: _layer_series(store, group) for label, group in runs.items()}
    if not all(series.values()):
        return [Verdict("effective learning rate under BN", "no BatchNorm-fed weights recorded", INCONCLUSIVE,
                        "the model reports no normalized_weights()")]  # fmt: skip
    beta1 = next(iter(runs.values()))[0].betas[0]
    figure, (norm_axis, rotation_axis) = plt.subplots(1, 2, figsize=(12, 4.2))
    for color, (label, layers) in zip(("C0", "C1", "C2"), series.items(), strict=True):
        for style, (layer, (norms, rotations)) in zip(("-", "--", ":", "-."), layers.items(), strict=False):
            epochs = range(1, len(norms) + 1)
            norm_axis.plot(epochs, norms, style, color=color, label=f"{label}: {layer}")
            rotation_axis.plot(epochs, rotations, style, color=color, label=f"{label}: {layer}")
    predicted = claims.equilibrium_rotation(ROTATION_DECAY, beta1)
    rotation_axis.axhline(predicted, color="black", linewidth=0.8, label=f"equilibrium for λ = {ROTATION_DECAY:g}")
    norm_axis.set(xlabel="epoch", ylabel="weight norm", yscale="log", title="BN-fed weights: norm (constant lr)")
    rotation_axis.set(xlabel="epoch", ylabel="mean rotation per step (rad)", yscale="log", title="rotation per step")
    rotation_axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    for axis in (norm_axis, rotation_axis):
        axis.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)

    decayed, undecayed, l2 = series.values()
    epochs_trained = len(next(iter(decayed.values()))[0])
    measured = [_late_mean(rotations) for _, rotations in decayed.values()]
    growth = statistics.fmean(norms[-1] / norms[0] for norms, _ in undecayed.values())
    decline = statistics.fmean(_late_mean(rotations) / rotations[0] for _, rotations in undecayed.values())
    return [
        claims.rotation_equilibrium(measured, ROTATION_DECAY, epochs_trained * steps_per_epoch, beta1),
        claims.no_decay_growth(growth, decline),
        claims.uneven_rotation(_spread(l2), _spread(decayed)),
    ]


SECTIONS = {
    "1": ("Decoupling of α and λ (Loshchilov & Hutter 2019, Fig. 2; the post's Fig. 1)",
          ["heatmaps.png", "ridge.png"],
          "Per method, the best λ in each learning-rate column (refined by a parabola in log λ) over the "
          "columns within noise of the best cell, and the slope s = d log λ*/d log α."),
    "2": ("AdamW vs AdamL2, BatchNorm off and on (Zhuang et al. 2022)",
          ["heatmaps_bn.png"],
          "Best cell of each method, compared seed by seed (same seeds, same initialization, same batches)."),
    "3": ("Late improvement and training length (L&H Sec. 4.3–4.4)",
          ["late.png"],
          "The gap between the best AdamW and AdamL2 cells along training; the best λ of paper-form AdamW "
          "at the best α for several training lengths (lengths whose best λ is at the grid's edge, and so "
          "only bounded, are left out)."),
    "4": ("ProxAdam ≈ AdamW for small η·λ",
          ["prox.png"],
          "Along a paper-AdamW training run at the best α (float64), once per epoch a ProxAdam step is taken "
          "from AdamW's exact state: how far it lands from AdamW's step, relative to the step, as λ grows. "
          "(Whole trajectories are no measure: Adam's 1/√v̂ grows any perturbation to O(lr) within a few "
          "steps, whatever its origin.)"),
    "5": ("Scale-freeness (Zhuang et al. 2022)",
          ["scale.png"],
          f"The loss multiplied by c ∈ {{10, 100}}, ε = {SMALL_EPS:g}, at the best α: where the best λ moves."),
    "6": ("Effective learning rate under BatchNorm (Zhang et al. 2019; Kosson et al. 2024)",
          ["rotation.png"],
          "Norm and per-step rotation of every BatchNorm-fed weight, constant learning rate, at the best α "
          f"of the BN grid: AdamW with λ = {ROTATION_DECAY:g} per step, without decay, and AdamL2."),
}  # fmt: skip


def _markdown(
    task: str, bn_task: str | None, epochs: int, plan: Plan, quick: bool, verdicts: dict[str, list[Verdict]]
) -> str:
    counts = {
        v: sum(x.verdict == v for vs in verdicts.values() for x in vs)
        for v in (claims.HOLDS, claims.FAILS, INCONCLUSIVE)
    }
    lines = [
        f"# The post's claims on {task}" + (f" and {bn_task}" if bn_task else ""),
        "",
        f"{'Quick run (--quick): small grids, one seed, few epochs; verdicts are indicative. ' if quick else ''}"
        f"{epochs} epochs, {plan.seeds} seed(s), learning rates {', '.join(format_value(lr) for lr in plan.lrs)}. "
        f"Verdicts: {counts[claims.HOLDS]} hold, {counts[claims.FAILS]} do not hold, "
        f"{counts[INCONCLUSIVE]} inconclusive.",
        "",
    ]
    for number, (title, figures, method) in SECTIONS.items():
        lines += [f"## {number}. {title}", "", method, ""]
        lines += [f"![{title}]({FIGURES}/{figure})" for figure in figures] + [""]
        lines += ["| claim | measured | verdict | rule |", "|---|---|---|---|"]
        lines += [f"| {v.claim} | {v.statistic} | **{v.verdict}** | {v.rule} |" for v in verdicts.get(number, [])]
        lines.append("")
    return "\n".join(lines)
