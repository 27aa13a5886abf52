"""Lion (Chen et al. 2023) with each decay rule: against Algorithm 2 written here, under a scheduler, per member,
and through a checkpoint that keeps λ's units."""

import copy

import pytest
import torch

from decaylab.optim import Lion, LionCore, LionL2
from decaylab.optim.rules import CORRECTED, EUCLIDEAN_PROXIMAL_L2, PROXIMAL_L2

from .scheduled import cosine, gradient_of, trained

STEPS, ALPHA, DECAY = 200, 3e-3, 0.1


gradient = gradient_of(1.0)


def run(optimizer_of, weight):
    return trained(optimizer_of, weight, STEPS, gradient)


def algorithm_2(weight, *, rule, betas=(0.9, 0.99), decay=DECAY):
    """Chen et al. 2023, Algorithm 2, in float64 with a cosine η_t, and the post's other decay rules beside it:
    ``c = β₁m + (1-β₁)g; θ ← θ − lr_t·(sign(c) + λθ); m ← β₂m + (1-β₂)g`` (``rule="torch"``)."""
    beta1, beta2 = betas
    weight, momentum = weight.clone(), torch.zeros_like(weight)
    for step in range(STEPS):
        eta = cosine(step, STEPS)
        lr = ALPHA * eta
        grad = gradient(weight, step)
        if rule == "l2":
            grad = grad + decay * weight
        update = torch.sign(beta1 * momentum + (1 - beta1) * grad)
        if rule == "torch":
            weight = weight - lr * (update + decay * weight)
        elif rule == "paper":
            weight = weight - lr * update - eta * decay * weight
        elif rule == "prox":
            weight = (weight - lr * update) / (1 + eta * decay)
        elif rule == "corrected":
            weight = weight - lr * update - lr * eta * decay * weight
        else:
            weight = weight - lr * update
        momentum = beta2 * momentum + (1 - beta2) * grad
    return weight


START = torch.randn(6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize(
    ("rule", "optimizer_of"),
    [
        ("torch", lambda p: Lion(p, lr=ALPHA, weight_decay=DECAY, convention="torch")),
        ("paper", lambda p: Lion(p, lr=ALPHA, weight_decay=DECAY)),
        ("l2", lambda p: LionL2(p, lr=ALPHA, weight_decay=DECAY)),
        ("prox", lambda p: LionCore(p, PROXIMAL_L2, lr=ALPHA, weight_decay=DECAY)),
        ("corrected", lambda p: LionCore(p, CORRECTED, lr=ALPHA, weight_decay=DECAY)),
        ("none", lambda p: Lion(p, lr=ALPHA)),
    ],
)
def test_each_rule_follows_its_formula_over_200_scheduled_steps(rule, optimizer_of):
    assert torch.allclose(run(optimizer_of, START), algorithm_2(START, rule=rule), rtol=0, atol=1e-10)


def test_the_two_conventions_are_one_method_under_lambda_paper_equal_to_alpha_lambda_torch():
    paper = run(lambda p: Lion(p, lr=ALPHA, weight_decay=ALPHA * DECAY), START)
    torch_form = run(lambda p: Lion(p, lr=ALPHA, weight_decay=DECAY, convention="torch"), START)
    assert torch.allclose(paper, torch_form, rtol=0, atol=1e-12)
    assert not torch.allclose(paper, run(lambda p: Lion(p, lr=ALPHA, weight_decay=DECAY), START))


def test_per_member_hyperparameters_train_each_member_as_its_own_optimizer():
    """Grid batching: stacked ``(M, …)`` weights with a length-M ``lr`` and ``λ``."""
    lrs, decays = torch.tensor([1e-3, 3e-3, 1e-2], dtype=torch.float64), torch.tensor([0.0, 0.1, 1.0])
    stacked = run(lambda p: Lion(p, lr=lrs, weight_decay=decays), START.expand(3, 6, 5).contiguous())
    for member, (lr, decay) in enumerate(zip(lrs.tolist(), decays.tolist(), strict=True)):
        alone = run(lambda p, lr=lr, decay=decay: Lion(p, lr=lr, weight_decay=decay), START)
        assert torch.allclose(stacked[member], alone, rtol=0, atol=1e-12), member


def test_a_checkpoint_resumes_exactly_and_keeps_lambdas_units():
    parameter = torch.nn.Parameter(START.clone())
    optimizer = Lion([parameter], lr=ALPHA, weight_decay=DECAY, convention="torch")
    for step in range(5):
        parameter.grad = gradient(parameter.detach(), step)
        optimizer.step()
    saved, weight = copy.deepcopy(optimizer.state_dict()), parameter.detach().clone()
    assert saved["param_groups"][0]["weight_decay_units"] == "torch"
    resumed_parameter = torch.nn.Parameter(weight.clone())
    resumed = Lion([resumed_parameter], lr=ALPHA, weight_decay=DECAY, convention="torch")
    resumed.load_state_dict(saved)
    paper = Lion([torch.nn.Parameter(weight.clone())], lr=ALPHA)
    paper.load_state_dict(saved)  # the other convention: converted exactly
    assert paper.param_groups[0]["weight_decay"] == pytest.approx(ALPHA * DECAY)
    for step in range(5, 10):
        for p, o in ((parameter, optimizer), (resumed_parameter, resumed)):
            p.grad = gradient(p.detach(), step)
            o.step()
    assert torch.equal(parameter.detach(), resumed_parameter.detach())


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda p: Lion(p, betas=(0.9, 1.5)), "betas"),
        (lambda p: Lion(p, weight_decay=-1.0), "weight_decay"),
        (lambda p: Lion(p, convention="jax"), "convention"),
        (lambda p: LionCore(p, EUCLIDEAN_PROXIMAL_L2), "adaptive"),
    ],
)
def test_a_bad_hyperparameter_is_refused_by_name(build, words):
    with pytest.raises(ValueError, match=words):
        build([torch.nn.Parameter(torch.ones(2))])


@pytest.mark.parametrize("cautious", [False, True])
def test_the_compiled_path_steps_as_the_reference_does(cautious):
    """One loop over memory through torch.compile (hyperparameters as tensors: one graph for a schedule)."""
    start = START.float()
    paths = [
        run(lambda p, path=path: Lion(p, lr=ALPHA, weight_decay=DECAY, cautious=cautious, implementation=path), start)
        for path in ("reference", "compiled")
    ]
    assert torch.allclose(*paths, rtol=0, atol=1e-6)


def test_maximize_climbs():
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = Lion([{"params": [parameter], "maximize": True}], lr=0.1)
    parameter.grad = torch.ones(3)
    optimizer.step()
    assert torch.equal(parameter.detach(), torch.full((3,), 0.1))
