"""The practitioners' options, each against its float64 formula: λ's own schedule (``λ_t = λ·μ_t``) on every
rule, which parameters λ reaches, and a separate α and λ for Muon's Adam half."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from decaylab.optim import METHODS, WeightDecaySchedule, param_groups

from .reference import GROUPS, STEPS, Group, decaylab_maker, reference_trajectory, relative_error, torch_trajectory

DECAYED_METHODS = [name for name, method in METHODS.items() if method.takes_weight_decay]


def cosine_to_zero(k: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * k / STEPS))


@pytest.mark.parametrize("method", DECAYED_METHODS)
def test_a_decay_schedule_gives_every_rule_lambda_times_mu_t_at_each_step(method):
    """Beside a warm-up + cosine lr, λ follows its own cosine to 0: the trajectory is the formula's with
    ``λ_t = λ·½(1 + cos(π t/T))``, and differs from the constant λ's (the check can fail)."""
    for implementation in ("auto", "reference"):
        actual, _ = torch_trajectory(decaylab_maker(method, implementation=implementation), decay_schedule="cosine")
        expected = reference_trajectory(method, decay_schedule=cosine_to_zero)
        assert relative_error(actual, expected) <= 1e-12, implementation
    assert relative_error(reference_trajectory(method), expected) > 1e-6


def test_a_decay_schedule_is_checkpointed_and_refuses_an_unknown_shape():
    weight = nn.Parameter(torch.ones(3, dtype=torch.float64))
    optimizer = decaylab_maker("adamw")([{"params": [weight], "lr": 0.1, "weight_decay": 0.4}])
    schedule = WeightDecaySchedule(optimizer, "linear", total_steps=10)
    for _ in range(4):
        schedule.step()
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(0.4 * 0.6, abs=1e-15)
    again = WeightDecaySchedule(
        decaylab_maker("adamw")([{"params": [weight], "lr": 0.1, "weight_decay": 0.4}]), "linear", 10
    )
    again.load_state_dict(schedule.state_dict())
    assert again.optimizer.param_groups[0]["weight_decay"] == optimizer.param_groups[0]["weight_decay"]
    with pytest.raises(ValueError, match="unknown decay schedule 'cosin'; choose from constant, cosine, linear"):
        WeightDecaySchedule(optimizer, "cosin", 10)


class Language(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.norm = nn.LayerNorm(3)
        self.hidden = nn.Linear(3, 4)


@pytest.mark.parametrize(
    ("options", "decayed"),
    [
        ({}, {"embed.weight", "hidden.weight"}),
        ({"decay_all": True}, {"embed.weight", "norm.weight", "norm.bias", "hidden.weight", "hidden.bias"}),
        ({"decay_embeddings": False}, {"hidden.weight"}),
    ],
)
def test_lambda_reaches_the_parameters_the_practice_names_and_no_other(options, decayed):
    """With no gradient, paper-form AdamW only decays: after T steps at η = 1 a decayed parameter is
    ``(1 − λ)^T·w_0``, an undecayed one ``w_0``."""
    model = Language().double()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = decaylab_maker("adamw")(param_groups(model, 0.1, **options))
    for _ in range(5):
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
    for name, p in model.named_parameters():
        factor = 0.9**5 if name in decayed else 1.0
        assert torch.allclose(p.detach(), before[name] * factor, rtol=1e-14, atol=0), name


class Mixed(nn.Module):
    """A matrix for Muon's direction and a decayed 1-D weight for Adam's (``decay_all``)."""

    def __init__(self, matrix: np.ndarray, vector: np.ndarray):
        super().__init__()
        self.matrix = nn.Parameter(torch.tensor(matrix))
        self.vector = nn.Parameter(torch.tensor(vector))


@pytest.mark.parametrize("decay_schedule", [None, "cosine"])
def test_muons_adam_half_steps_with_its_own_alpha_and_lambda(decay_schedule):
    """``param_groups(…, muon=True, adam_lr=α_a, adam_weight_decay=λ_a)``: the matrix follows paper-form Muon's
    formula at (α, λ), the 1-D weight paper-form AdamW's at (α_a, λ_a); one scheduler gives both their ``η_t``."""
    matrix, vector = GROUPS[0], Group(GROUPS[1].init, lr=0.003, weight_decay=0.02, seed=GROUPS[1].seed)
    model = Mixed(matrix.init, vector.init)
    groups = param_groups(
        model, matrix.weight_decay, decay_all=True, muon=True, adam_lr=vector.lr, adam_weight_decay=vector.weight_decay
    )
    optimizer = decaylab_maker("muonw")([{**group, "lr": group.get("lr", matrix.lr)} for group in groups])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 1.0 if k < 10 else 0.5)
    decay = WeightDecaySchedule(optimizer, decay_schedule, STEPS) if decay_schedule else None
    for t in range(1, STEPS + 1):
        for p, g in ((model.matrix, matrix), (model.vector, vector)):
            p.grad = p.detach() ** 3 - torch.tensor(g.target(t))
        optimizer.step()
        scheduler.step()
        if decay is not None:
            decay.step()
    mu = cosine_to_zero if decay_schedule else (lambda k: 1.0)
    expected = reference_trajectory("muonw", [matrix, vector], lambda k: 1.0 if k < 10 else 0.5, decay_schedule=mu)
    assert relative_error([model.matrix.detach(), model.vector.detach()], expected) <= 1e-12
    shared = reference_trajectory("muonw", [matrix, GROUPS[1]], lambda k: 1.0 if k < 10 else 0.5, decay_schedule=mu)
    assert relative_error([model.vector.detach()], shared[1:]) > 1e-3  # the Adam half's own α and λ changed its path


def test_an_adam_half_without_muon_is_refused():
    with pytest.raises(ValueError, match="adam_lr and adam_weight_decay are for Muon's Adam half"):
        param_groups(Language(), 0.1, adam_lr=1e-3)


def test_a_scheduled_checkpoint_of_the_other_convention_keeps_its_decay_and_an_unscheduled_one_loads():
    """torch-form AdamW (λ_torch = 0.1 at α = 1e-3) under a linear λ schedule, saved and loaded into paper-form
    AdamW with its own schedule: λ_paper = α·λ_torch·μ_t, not λ_torch·μ_t (which would shrink 1000 times too
    hard). A checkpoint saved without a schedule loads under one, its λ as the schedule's."""
    weight = nn.Parameter(torch.ones(3, dtype=torch.float64))
    torch_form = decaylab_maker("adamw-torch")([{"params": [weight], "lr": 1e-3, "weight_decay": 0.1}])
    schedule = WeightDecaySchedule(torch_form, "linear", total_steps=10)
    for _ in range(4):
        schedule.step()
    paper = decaylab_maker("adamw")([{"params": [weight], "lr": 1e-3, "weight_decay": 0.0}])
    again = WeightDecaySchedule(paper, "linear", total_steps=10)
    paper.load_state_dict(torch_form.state_dict())
    again.load_state_dict(schedule.state_dict())
    assert paper.param_groups[0]["weight_decay"] == pytest.approx(1e-3 * 0.1 * 0.6, rel=1e-12)
    unscheduled = decaylab_maker("adamw")([{"params": [weight], "lr": 1e-3, "weight_decay": 0.02}])
    paper.load_state_dict(unscheduled.state_dict())
    again.step()
    assert paper.param_groups[0]["weight_decay"] == pytest.approx(0.02 * 0.5, rel=1e-12)
