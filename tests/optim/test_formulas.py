"""Every rule is the post's formula, on every path, for each direction (Adam, SGD, Lion and Muon)."""

import math

import pytest
import torch

from .reference import (
    FAMILIES,
    SGD_METHODS,
    decaylab_maker,
    reference_trajectory,
    relative_error,
    torch_trajectory,
)


def test_every_rule_matches_an_independent_reference_of_the_post_formula(method):
    for implementation in ("auto", "reference"):
        actual, _ = torch_trajectory(decaylab_maker(method, implementation=implementation))
        assert relative_error(actual, reference_trajectory(method)) <= 1e-12, implementation


@pytest.mark.parametrize("method", SGD_METHODS)
def test_every_sgd_rule_matches_its_reference_with_nesterov(method):
    for implementation in ("auto", "reference"):
        actual, _ = torch_trajectory(decaylab_maker(method, implementation=implementation, nesterov=True))
        assert relative_error(actual, reference_trajectory(method, nesterov=True)) <= 1e-12, implementation


def test_the_fast_path_agrees_with_the_per_tensor_path_in_float64_and_float32(method):
    for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 5e-6)):
        fast, _ = torch_trajectory(decaylab_maker(method, implementation="auto"), dtype=dtype)
        per_tensor, _ = torch_trajectory(decaylab_maker(method, implementation="reference"), dtype=dtype)
        assert relative_error(fast, per_tensor) <= tolerance, dtype


def test_the_reference_is_not_blind_to_the_rule(method):
    """A check that cannot fail is no check: each rule differs from every other of its family here."""
    mine = reference_trajectory(method)
    assert all(math.isfinite(float(x)) for w in mine for x in w.flat)
    for other in FAMILIES[method]:
        if other != method:
            assert relative_error(reference_trajectory(other), mine) > 1e-4, other
