"""Checkpoints, torch interchange, dtypes and parameters without a gradient."""

import copy

import pytest
import torch

from decaylab.optim import METHODS, SGDL2, SGDW, AdamW, make_optimizer

from .reference import with_directions


def make_model(seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).to(dtype)


def train(model, optimizer, steps: int, first_step: int = 0) -> None:
    for t in range(first_step, first_step + steps):
        x = torch.randn(16, 6, generator=torch.Generator().manual_seed(t), dtype=next(model.parameters()).dtype)
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()


def weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_state_dict_round_trip_mid_run_continues_identically(method):
    model = make_model()
    optimizer = make_optimizer(method, model.parameters(), lr=1e-2, weight_decay=0.1, momentum=0.9)
    train(model, optimizer, 5)
    saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    train(model, optimizer, 5, first_step=5)

    restored = make_model(seed=1)
    restored.load_state_dict(saved_model)
    restored_optimizer = make_optimizer(method, restored.parameters(), lr=1e-2, weight_decay=0.1, momentum=0.9)
    restored_optimizer.load_state_dict(saved_optimizer)
    train(restored, restored_optimizer, 5, first_step=5)
    for a, b in zip(weights(model), weights(restored)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)  # a saved SGDW buffer is torch's form again


def test_a_state_dict_with_per_member_hyperparameters_loads_and_continues_identically(method):
    generator = torch.Generator().manual_seed(0)
    init = torch.randn(3, 4, generator=generator)
    grads = [torch.randn(3, 4, generator=generator) for _ in range(6)]

    def optimizer_of(weight):
        return make_optimizer(method, with_directions(method, [weight]), lr=torch.tensor([1e-2, 3e-2, 0.1]),
                              weight_decay=torch.tensor([0.0, 0.1, 0.2]), momentum=0.9)  # fmt: skip

    def steps(weight, optimizer, gradients):
        for grad in gradients:
            weight.grad = grad.clone()
            optimizer.step()

    whole = torch.nn.Parameter(init.clone())
    optimizer = optimizer_of(whole)
    steps(whole, optimizer, grads[:3])
    saved = copy.deepcopy(optimizer.state_dict())
    resumed = torch.nn.Parameter(whole.detach().clone())
    steps(whole, optimizer, grads[3:])
    restored = optimizer_of(resumed)
    restored.load_state_dict(saved)
    steps(resumed, restored, grads[3:])
    torch.testing.assert_close(resumed.detach(), whole.detach(), rtol=1e-6, atol=1e-7)


def test_state_keys_are_torch_adams_and_torch_sgds(method):
    model = make_model()
    optimizer = make_optimizer(method, model.parameters(), lr=1e-2, weight_decay=0.1, momentum=0.9)
    train(model, optimizer, 2)
    state = optimizer.state_dict()["state"][0]
    if METHODS[method].family == "adam":
        assert set(state) == {"step", "exp_avg", "exp_avg_sq"}
        assert state["step"].dtype == torch.float32 and float(state["step"]) == 2
    elif METHODS[method].family == "lion":  # Lion's one moment, under Adam's name for it
        assert set(state) == {"exp_avg"}
    else:
        assert set(state) == {"momentum_buffer"}


def test_a_torch_adamw_checkpoint_continues_identically_in_torch_convention_adamw():
    model, twin = make_model(), make_model()
    theirs = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    train(model, theirs, 5)
    twin.load_state_dict(model.state_dict())
    ours = AdamW(twin.parameters(), lr=1e-2, weight_decay=0.1, convention="torch")
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))  # a checkpoint is a copy, not shared buffers
    train(model, theirs, 5, first_step=5)
    train(twin, ours, 5, first_step=5)
    for a, b in zip(weights(model), weights(twin)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("sgd", "make"),
    [(False, lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, weight_decay=0.1)),
     (True, lambda p: SGDL2(p, lr=1e-2, momentum=0.9, weight_decay=0.1))],
)  # fmt: skip
def test_a_torch_sgd_checkpoint_continues_identically_in_sgdl2_and_back(sgd, make):
    model, twin = make_model(), make_model()
    first = make(model.parameters())
    train(model, first, 5)
    twin.load_state_dict(model.state_dict())
    second = (torch.optim.SGD if sgd else SGDL2)(twin.parameters(), lr=1e-2, momentum=0.9, weight_decay=0.1)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    train(model, first, 5, first_step=5)
    train(twin, second, 5, first_step=5)
    for a, b in zip(weights(model), weights(twin)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_a_sgdw_buffer_saved_mid_run_is_the_momentum_of_the_gradients():
    """The fused path keeps u = v + k·w internally; its checkpoint holds torch's v, as the reference path does."""
    states = []
    for implementation in ("auto", "reference"):
        model = make_model(dtype=torch.float64)
        optimizer = SGDW(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.3, implementation=implementation)
        train(model, optimizer, 4)
        states.append(optimizer.state_dict()["state"])
    for index in states[0]:
        torch.testing.assert_close(states[0][index]["momentum_buffer"], states[1][index]["momentum_buffer"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_every_dtype_trains_and_keeps_its_dtype(method, dtype):
    model = make_model(dtype=dtype)
    before = weights(model)
    lr = 1e-2 if METHODS[method].family == "adam" else 0.5  # SGD's step must exceed bfloat16's resolution
    optimizer = make_optimizer(method, model.parameters(), lr=lr, weight_decay=0.1, momentum=0.9)
    train(model, optimizer, 3)
    assert not all(torch.equal(old, new) for old, new in zip(before, weights(model)))
    for new in weights(model):
        assert new.dtype == dtype and torch.isfinite(new).all()
    for state in optimizer.state.values():
        assert all(t.dtype == dtype for t in state.values() if isinstance(t, torch.Tensor) and t.ndim > 0)


def test_parameters_without_a_gradient_are_skipped(method):
    model = make_model()
    frozen = torch.nn.Parameter(torch.ones(3))
    optimizer = make_optimizer(method, [*model.parameters(), frozen], lr=1e-2, weight_decay=0.5)
    train(model, optimizer, 2)
    assert torch.equal(frozen.detach(), torch.ones(3))
    assert frozen not in optimizer.state


def test_step_takes_a_closure_and_returns_its_loss(method):
    model = make_model()
    optimizer = make_optimizer(method, model.parameters(), lr=1e-2, weight_decay=0.1)
    x = torch.randn(4, 6)

    def closure():
        optimizer.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        return loss

    before = weights(model)
    assert optimizer.step(closure) is not None
    assert not torch.equal(before[0], weights(model)[0])
