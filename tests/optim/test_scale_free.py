"""Acceptance 4: with ε = 0, AdamW and ProxAdam ignore the scale of the loss; AdamL2 and AdamP do not."""

import pytest

from .reference import decaylab_maker, relative_error, torch_trajectory


def trajectories(method: str):
    make = decaylab_maker(method, eps=0.0)
    return torch_trajectory(make)[0], torch_trajectory(make, grad_scale=100.0)[0]


@pytest.mark.parametrize("method", ["adamw", "proxadam"])
def test_decoupled_rules_are_unchanged_by_scaling_the_gradient(method):
    plain, scaled = trajectories(method)
    assert relative_error(scaled, plain) <= 1e-12


@pytest.mark.parametrize("method", ["adaml2", "adamp"])
def test_coupled_rules_change_when_the_gradient_is_scaled(method):
    plain, scaled = trajectories(method)
    assert relative_error(scaled, plain) > 1e-2
