"""The one dispatcher: which path a group's step takes, decided in one place."""

import pytest
import torch

from decaylab.optim.dispatch import path

DENSE = [torch.zeros(3, 4), torch.zeros(4)]


@pytest.mark.parametrize(
    ("implementation", "tensors", "lr", "weight_decay", "expected"),
    [
        ("auto", DENSE, 1e-3, 0.1, "fused"),
        ("auto", DENSE, torch.tensor(1e-3), torch.tensor([0.1]), "fused"),  # one-element tensors are one value
        ("auto", DENSE, torch.tensor([1e-3, 1e-2]), 0.1, "fused-members"),  # per-member values
        ("auto", DENSE, 1e-3, torch.tensor([0.0, 0.1]), "fused-members"),
        ("auto", DENSE, 0.0, 0.1, "fused-members"),  # the one-pass kernel cannot take lr = 0
        ("auto", [torch.zeros(4, 3).t()], 1e-3, 0.1, "reference"),  # strided: the kernels read one dense block
        ("auto", [torch.zeros(3, dtype=torch.int64)], 1e-3, 0.1, "reference"),
        ("reference", DENSE, 1e-3, 0.1, "reference"),
        ("compiled", DENSE, 1e-3, 0.1, "compiled"),
    ],
)
def test_each_step_takes_the_path_its_tensors_and_values_allow(implementation, tensors, lr, weight_decay, expected):
    assert path(implementation, tensors, lr, weight_decay) == expected


def test_a_step_traced_by_torch_compile_takes_the_reference_path():
    paths = []

    def traced(x):
        paths.append(path("auto", DENSE, 1e-3, 0.1))
        return x + 1

    torch.compile(traced, backend="eager")(torch.zeros(2))
    assert paths == ["reference"]
