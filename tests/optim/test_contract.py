"""The contract every optimizer keeps: it optimizes, schedules, batches members and groups params."""

import warnings

import pytest
import torch

from decaylab.optim import METHODS, AdamP, AdamW, make_optimizer, param_groups

from .reference import (
    BETAS,
    GROUPS,
    MOMENTUM,
    decaylab_maker,
    reference_trajectory,
    relative_error,
    torch_trajectory,
    with_directions,
)


def minimize(method: str, loss_fn, start: list[float], steps: int, lr: float) -> torch.Tensor:
    """``steps`` cosine-scheduled steps; SGD rules with momentum 0.9 and a tenth of Adam's ``lr``."""
    w = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    if METHODS[method].family == "sgd":
        lr /= 10
    optimizer = make_optimizer(method, [w], lr=lr, weight_decay=1e-6, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(w).backward()
        optimizer.step()
        scheduler.step()
    return w.detach()


def test_every_rule_minimizes_a_parabola(method):
    target = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    w = minimize(method, lambda w: ((w - target) ** 2).sum(), [0.0, 0.0, 0.0], steps=2000, lr=0.05)
    assert (w - target).abs().max() < 1e-2


def test_every_rule_minimizes_rosenbrock(method):
    def rosenbrock(w):
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2

    w = minimize(
        method, rosenbrock, [-1.0, 1.5], steps=5000, lr=0.02 if METHODS[method].family in ("adam", "muon") else 0.01
    )
    assert (w - 1).abs().max() < 5e-2


def test_schedulers_drive_eta_as_scheduled_lr_over_the_peak_lr():
    w = torch.nn.Parameter(torch.ones(2))
    optimizer = AdamW([w], lr=0.1, weight_decay=0.2, convention="paper")
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.step()  # no gradient yet: nothing moves
    scheduler.step()
    group = optimizer.param_groups[0]
    assert group["peak_lr"] == 0.1 and optimizer.learning_rate(group) == (0.05, 0.5)
    w.grad = torch.zeros(2)
    optimizer.step()
    # zero gradient: the paper-form step is pure decay (1 − η_t·λ) = 1 − 0.5·0.2
    torch.testing.assert_close(w.detach(), torch.full((2,), 0.9))


@pytest.mark.parametrize("maximize", [False, True])
def test_per_member_hyperparameters_equal_each_member_trained_alone(method, maximize):
    """A stacked parameter (M, …) with length-M lr and λ is M independent optimizers."""
    lrs = torch.tensor([0.05, 0.02, 0.01], dtype=torch.float64)
    decays = torch.tensor([0.3, 0.0, 0.1], dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    init = torch.randn(3, 4, 2, dtype=torch.float64, generator=generator)
    grads = [torch.randn(3, 4, 2, dtype=torch.float64, generator=generator) for _ in range(20)]

    def run(w0, lr, decay, grad_of):
        w = torch.nn.Parameter(w0.clone())
        group = {"params": [w], "maximize": maximize}
        muon = {"ns_dtype": "float64"} if METHODS[method].family == "muon" else {}  # bfloat16 rounds a stack apart
        if muon:
            group["direction"] = "muon"  # a stack of matrices: Muon's direction, as param_groups(muon=True) says
        optimizer = make_optimizer(method, [group], lr=lr, weight_decay=decay, momentum=0.9, **muon)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 / (1 + t))  # drives every member
        for g in grads:
            w.grad = grad_of(g, w.detach())
            optimizer.step()
            scheduler.step()
        return w.detach()

    curvature = -1.0 if maximize else 1.0  # ascent on a concave function stays bounded
    stacked = run(init, lrs, decays, lambda g, w: g + curvature * w**3)
    for member in range(3):
        alone = run(init[member], float(lrs[member]), float(decays[member]),
                    lambda g, w, m=member: g[m] + curvature * w**3)  # fmt: skip
        torch.testing.assert_close(stacked[member], alone, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("maximize", [False, True])
def test_per_member_fast_path_matches_the_reference(method, maximize):
    """Per-member lr and λ (one member's lr 0, whose paper-form decay still acts), a float32
    matrix and a vector, on ``auto`` and on ``reference``: the same step to float32 rounding."""
    generator = torch.Generator().manual_seed(1)
    init = [torch.randn(3, 5, 4, generator=generator), torch.randn(3, 5, generator=generator)]
    grads = [[torch.randn(w.shape, generator=generator) for w in init] for _ in range(10)]

    def run(implementation):
        weights = [torch.nn.Parameter(w.clone()) for w in init]
        groups = with_directions(method, weights, maximize=maximize)
        lr, decay = torch.tensor([1e-2, 0.0, 3e-2]), torch.tensor([0.1, 0.2, 0.0])
        optimizer = make_optimizer(method, groups, lr=lr, weight_decay=decay, implementation=implementation)
        for step_grads in grads:
            for weight, grad in zip(weights, step_grads, strict=True):
                weight.grad = grad + weight.detach()
            optimizer.step()
        return [w.detach() for w in weights]

    for fast, reference in zip(run("auto"), run("reference"), strict=True):
        torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["adamp", "sgdw"])
def test_compiled_path_matches_the_reference(method):
    compiled, _ = torch_trajectory(decaylab_maker(method, implementation="compiled"), steps=20)
    assert relative_error(compiled, reference_trajectory(method, steps=20)) <= 1e-12


def test_param_groups_decay_matrices_not_biases_or_norms():
    model = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.BatchNorm1d(4), torch.nn.Flatten(),
                                torch.nn.Linear(8, 3), torch.nn.LayerNorm(3))  # fmt: skip
    decayed, kept = param_groups(model, 0.1)
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(kept["params"]) == 6
    (everything,) = param_groups(model, 0.1, decay_all=True)
    assert len(everything["params"]) == 8
    decayed, kept = param_groups(model, 0.1, no_decay=("3.",))
    assert {id(p) for p in decayed["params"]} == {id(model[0].weight)}
    decayed, kept = param_groups(model, 0.1, decay_all=True, no_decay=("3.",))  # all but the named ones
    assert {id(p) for p in kept["params"]} == {id(model[3].weight), id(model[3].bias)} and len(decayed["params"]) == 6
    AdamP(param_groups(model, 0.1), lr=1e-3)  # the groups are accepted as they are


@pytest.mark.parametrize("lr", [0.0, 1e-3])
def test_a_zero_or_any_peak_lr_gives_a_finite_eta(lr):
    optimizer = AdamW([torch.nn.Parameter(torch.ones(2))], lr=lr)
    optimizer.param_groups[0]["lr"] = lr / 2
    assert optimizer.learning_rate(optimizer.param_groups[0])[1] in (0.5, 1.0)


def test_group_set_up_is_what_the_acceptance_checks_use():
    assert len(GROUPS) == 2 and GROUPS[0].lr != GROUPS[1].lr and GROUPS[0].weight_decay != GROUPS[1].weight_decay


def test_a_rule_needs_no_class_of_its_own():
    """A method record can build any rule on the core: ``partial(AdamCore, rule=…)`` is the named class."""
    from functools import partial

    from decaylab.optim import AdamCore, SGDCore
    from decaylab.optim.rules import PAPER, PROXIMAL_L2

    adamw = partial(AdamCore, rule=PAPER, betas=BETAS)
    proxsgd = partial(SGDCore, rule=PROXIMAL_L2, momentum=MOMENTUM)
    assert relative_error(torch_trajectory(adamw)[0], reference_trajectory("adamw")) <= 1e-12
    assert relative_error(torch_trajectory(proxsgd)[0], reference_trajectory("proxsgd")) <= 1e-12


def test_adamw_with_a_decay_and_no_convention_warns_that_its_lambda_is_not_torchs():
    """``AdamW(params, lr=1e-3, weight_decay=0.01)`` copied from a torch script decays 1/lr times more than torch's:
    it warns, naming both conventions; saying the convention, or giving no decay, is silent."""
    weight = torch.nn.Parameter(torch.ones(3))
    with pytest.warns(UserWarning, match="convention='paper'.*convention='torch'"):
        AdamW([weight], lr=1e-3, weight_decay=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AdamW([weight], lr=1e-3, weight_decay=0.01, convention="paper")
        AdamW([weight], lr=1e-3, weight_decay=0.01, convention="torch")
        AdamW([weight], lr=1e-3)
        for method in (name for name, record in METHODS.items() if record.takes_weight_decay):
            make_optimizer(method, [weight], lr=1e-3, weight_decay=0.01, momentum=0.9)
