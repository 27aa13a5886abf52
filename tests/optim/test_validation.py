"""Bad hyperparameters name the argument; sparse gradients are refused clearly."""

import pytest
import torch

from decaylab.optim import METHODS, SGDW, Adam, AdamW, ProxAdam, make_optimizer

from .reference import ALL_METHODS, SGD_METHODS

COMMON = [
    ({"lr": -1e-3}, "lr"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"lr": torch.tensor([1e-3, -1e-3])}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": torch.ones(2, 2)}, "lr must be a number or a 1-D tensor"),
    ({"lr": torch.full((3,), 1e-3)}, r"lr has 3 per-member values, but parameter 0 of its group has shape \(2,\)"),
    ({"weight_decay": torch.full((3,), 0.1)}, "weight_decay has 3 per-member values"),
]
ADAM_ONLY = [
    ({"eps": -1e-8}, "eps"),
    ({"betas": (1.0, 0.999)}, r"betas\[0\]"),
    ({"betas": (0.9, -0.1)}, r"betas\[1\]"),
]
SGD_ONLY = [
    ({"momentum": -0.5}, "momentum"),
    ({"nesterov": True, "momentum": 0.0}, "nesterov"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov"),
]

ONLY = {
    "adam": ADAM_ONLY,
    "sgd": SGD_ONLY,
    "lion": ADAM_ONLY[1:],
    "muon": ADAM_ONLY,
}  # Lion: betas, no eps; Muon: its Adam ones


@pytest.mark.parametrize(
    ("method", "kwargs", "name"),
    [
        (method, kwargs, name)
        for method in ALL_METHODS
        for kwargs, name in COMMON + ONLY[METHODS[method].family]
        if not (method == "adam" and "weight_decay" in kwargs)  # Adam takes none: see below
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_the_argument(method, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_optimizer(method, [torch.nn.Parameter(torch.ones(2))], **kwargs)


def test_a_bad_param_group_added_later_is_refused():
    optimizer = AdamW([torch.nn.Parameter(torch.ones(2))], weight_decay=0.1, convention="paper")
    with pytest.raises(ValueError, match="weight_decay"):
        optimizer.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "weight_decay": -1.0})


def test_a_group_of_stacked_parameters_may_come_as_a_generator():
    stacked = [torch.nn.Parameter(torch.ones(3, 2)), torch.nn.Parameter(torch.ones(3))]
    optimizer = AdamW(
        [{"params": (p for p in stacked), "lr": torch.full((3,), 1e-2)}], weight_decay=0.1, convention="paper"
    )
    assert optimizer.param_groups[0]["params"] == stacked


def test_unknown_convention_penalty_implementation_and_method_are_refused():
    params = [torch.nn.Parameter(torch.ones(2))]
    with pytest.raises(ValueError, match="convention"):
        AdamW(params, convention="pytorch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="convention"):
        SGDW(params, convention="pytorch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="penalty"):
        ProxAdam(params, penalty="l3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="implementation"):
        Adam(params, implementation="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown method"):
        make_optimizer("sgd", params)


def test_adam_takes_no_weight_decay_not_even_in_a_group():
    with pytest.raises(TypeError):
        Adam([torch.nn.Parameter(torch.ones(2))], weight_decay=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="weight_decay must be 0 for Adam"):
        Adam([{"params": [torch.nn.Parameter(torch.ones(2))], "weight_decay": 0.1}])
    Adam([{"params": [torch.nn.Parameter(torch.ones(2))], "weight_decay": 0.0}])  # a group without decay is fine


def test_sparse_gradients_raise_a_clear_error(method):
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    optimizer = make_optimizer(method, embedding.parameters(), lr=1e-2, momentum=0.9)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        optimizer.step()


@pytest.mark.parametrize("method", SGD_METHODS)
def test_an_sgd_rule_ignores_adam_hyperparameters_in_make_optimizer_and_vice_versa(method):
    sgd = make_optimizer(method, [torch.nn.Parameter(torch.ones(2))], betas=(0.5, 0.5), eps=1.0, momentum=0.5)
    assert "betas" not in sgd.param_groups[0] and sgd.param_groups[0]["momentum"] == 0.5
    adam = make_optimizer("adamw", [torch.nn.Parameter(torch.ones(2))], momentum=0.5)
    assert "momentum" not in adam.param_groups[0]
