"""Where a rule coincides with torch.optim or with another rule, it is the same."""

import pytest
import torch

from decaylab.optim import convert_weight_decay

from .reference import (
    ADAM_METHODS,
    GROUPS,
    MOMENTUM,
    SGD_METHODS,
    Group,
    constant,
    decaylab_maker,
    relative_error,
    torch_trajectory,
    warmup_cosine,
)


def absolute_error(actual, expected) -> float:
    return max(float((a - e).abs().max()) for a, e in zip(actual, expected))


@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_adaml2_is_torch_adam_with_weight_decay(implementation):
    ours, _ = torch_trajectory(decaylab_maker("adaml2", implementation=implementation))
    theirs, _ = torch_trajectory(lambda groups: torch.optim.Adam(groups, foreach=False))
    assert absolute_error(ours, theirs) <= 1e-10


@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_torch_convention_adamw_is_torch_adamw(implementation):
    ours, _ = torch_trajectory(decaylab_maker("adamw-torch", implementation=implementation))
    theirs, _ = torch_trajectory(lambda groups: torch.optim.AdamW(groups, foreach=False))
    assert absolute_error(ours, theirs) <= 1e-10


@pytest.mark.parametrize("method", ADAM_METHODS)
def test_every_adam_rule_without_decay_is_adam(method):
    no_decay = [Group(g.init, g.lr, 0.0, g.seed) for g in GROUPS]
    ours, _ = torch_trajectory(decaylab_maker(method), groups=no_decay)
    adam, _ = torch_trajectory(decaylab_maker("adam"), groups=no_decay)
    assert absolute_error(ours, adam) <= 1e-12
    theirs, _ = torch_trajectory(lambda groups: torch.optim.Adam(groups, foreach=False), groups=no_decay)
    assert absolute_error(adam, theirs) <= 1e-10


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("method", SGD_METHODS)
def test_every_sgd_rule_without_decay_is_torch_sgd(method, nesterov):
    no_decay = [Group(g.init, g.lr, 0.0, g.seed) for g in GROUPS]
    ours, _ = torch_trajectory(decaylab_maker(method, nesterov=nesterov), groups=no_decay)
    theirs, _ = torch_trajectory(lambda g: torch.optim.SGD(g, momentum=MOMENTUM, nesterov=nesterov), groups=no_decay)
    assert absolute_error(ours, theirs) <= 1e-12


STEPS = 200


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_sgdl2_is_torch_sgd_with_weight_decay_over_200_scheduled_steps(implementation, nesterov):
    ours, _ = torch_trajectory(decaylab_maker("sgdl2", implementation=implementation, nesterov=nesterov), steps=STEPS,
                               schedule=warmup_cosine)  # fmt: skip
    theirs, _ = torch_trajectory(lambda g: torch.optim.SGD(g, momentum=MOMENTUM, nesterov=nesterov), steps=STEPS)
    assert absolute_error(ours, theirs) <= 1e-12


class DecoupledSGD(torch.optim.SGD):
    """torch's own SGD with the decay applied before each step, ``w ← (1 − lr_t·λ)·w``, kept out of the
    momentum: the decoupled form of torch-style AdamW, for SGD (what composer's DecoupledSGDW does)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                param.mul_(1 - group["lr"] * group["decoupled_weight_decay"])
        return super().step(closure)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_torch_convention_sgdw_is_torch_sgd_with_decoupled_decay_over_200_scheduled_steps(implementation, nesterov):
    def torch_sgdw(groups):
        for group in groups:
            group["decoupled_weight_decay"] = group.pop("weight_decay")
        return DecoupledSGD(groups, momentum=MOMENTUM, nesterov=nesterov)

    ours, _ = torch_trajectory(decaylab_maker("sgdw-torch", implementation=implementation, nesterov=nesterov),
                               steps=STEPS)  # fmt: skip
    theirs, _ = torch_trajectory(torch_sgdw, steps=STEPS)
    assert absolute_error(ours, theirs) <= 1e-12


def test_paper_convention_with_converted_decay_is_torch_convention_under_constant_lr():
    as_paper = [
        Group(g.init, g.lr, convert_weight_decay(g.weight_decay, g.lr, "torch", "paper"), g.seed) for g in GROUPS
    ]
    paper, _ = torch_trajectory(decaylab_maker("adamw"), groups=as_paper, schedule=constant)
    torch_form, _ = torch_trajectory(decaylab_maker("adamw-torch"), schedule=constant)
    assert relative_error(paper, torch_form) <= 1e-12
    # ... and the conventions really differ on the same λ.
    unconverted, _ = torch_trajectory(decaylab_maker("adamw"), schedule=constant)
    assert relative_error(unconverted, torch_form) > 1e-3


def test_convert_weight_decay_round_trips_and_names_bad_conventions():
    assert convert_weight_decay(1e-2, 1e-3, "torch", "paper") == pytest.approx(1e-5)
    assert convert_weight_decay(convert_weight_decay(0.3, 0.02, "paper", "torch"), 0.02, "torch", "paper") == 0.3
    with pytest.raises(ValueError, match="dst"):
        convert_weight_decay(0.1, 1e-3, "torch", "pytorch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lr"):
        convert_weight_decay(0.1, 0.0, "torch", "paper")
