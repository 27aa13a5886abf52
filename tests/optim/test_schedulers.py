"""η_t under every torch scheduler, and checkpoints from torch and from older code."""

import copy

import pytest
import torch
from torch.optim import lr_scheduler

from decaylab.optim import METHODS, AdamW, make_optimizer

from .reference import ADAM_METHODS

LR = 0.1
STEPS = 60


def schedulers(optimizer):
    """One of each of torch's schedulers, as a user would configure it (constructor lr = the peak)."""

    def warmup_then_cosine():
        warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=10)
        return lr_scheduler.SequentialLR(optimizer, [warmup, lr_scheduler.CosineAnnealingLR(optimizer, 50)], [10])

    return {
        "LambdaLR": lambda: lr_scheduler.LambdaLR(optimizer, lambda k: 1 / (1 + k)),
        "MultiplicativeLR": lambda: lr_scheduler.MultiplicativeLR(optimizer, lambda k: 0.95),
        "StepLR": lambda: lr_scheduler.StepLR(optimizer, 10, 0.5),
        "MultiStepLR": lambda: lr_scheduler.MultiStepLR(optimizer, [10, 30]),
        "ConstantLR": lambda: lr_scheduler.ConstantLR(optimizer, 0.5, total_iters=20),
        "LinearLR": lambda: lr_scheduler.LinearLR(optimizer, 0.1, 1.0, total_iters=20),
        "ExponentialLR": lambda: lr_scheduler.ExponentialLR(optimizer, 0.9),
        "PolynomialLR": lambda: lr_scheduler.PolynomialLR(optimizer, STEPS, 2.0),
        "CosineAnnealingLR": lambda: lr_scheduler.CosineAnnealingLR(optimizer, STEPS),
        "CosineAnnealingWarmRestarts": lambda: lr_scheduler.CosineAnnealingWarmRestarts(optimizer, 15),
        "SequentialLR": warmup_then_cosine,
        "ChainedScheduler": lambda: lr_scheduler.ChainedScheduler(
            [lr_scheduler.ConstantLR(optimizer, 0.5, total_iters=5), lr_scheduler.ExponentialLR(optimizer, 0.95)]
        ),
        "ReduceLROnPlateau": lambda: lr_scheduler.ReduceLROnPlateau(optimizer, patience=2),
        "CyclicLR": lambda: lr_scheduler.CyclicLR(optimizer, LR / 10, LR, step_size_up=10),
        "CyclicLR, peak above the optimizer's lr": lambda: lr_scheduler.CyclicLR(optimizer, LR / 10, 3 * LR, 10),
        "OneCycleLR": lambda: lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=STEPS),
    }


def test_every_scheduler_keeps_eta_at_most_one_and_reaches_one_at_its_peak():
    for name in schedulers(AdamW([torch.nn.Parameter(torch.ones(1))])):
        w = torch.nn.Parameter(torch.ones(3))
        optimizer = AdamW([w], lr=LR, weight_decay=0.1, betas=(0.9, 0.999), convention="paper")
        scheduler = schedulers(optimizer)[name]()
        etas = []
        for _ in range(STEPS):
            w.grad = torch.ones(3)
            optimizer.step()
            etas.append(optimizer.learning_rate(optimizer.param_groups[0])[1])
            scheduler.step(1.0) if name == "ReduceLROnPlateau" else scheduler.step()  # a flat loss: it decays
        assert max(etas) <= 1 + 1e-12, name
        if name not in ("MultiplicativeLR", "ExponentialLR", "LambdaLR", "ReduceLROnPlateau", "StepLR", "MultiStepLR",
                        "ConstantLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
                        "ChainedScheduler"):  # fmt: skip
            assert max(etas) == pytest.approx(1.0, abs=1e-3), name  # warm-ups and cycles reach their peak


def test_under_one_cycle_the_paper_form_decays_lambda_per_step_at_the_peak():
    """OneCycleLR overwrites initial_lr with max_lr/25; η_t is still measured from max_lr."""
    w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    optimizer = AdamW([w], lr=1.0, weight_decay=0.01, convention="paper")
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=20, pct_start=0.5)
    shrinks = []
    for _ in range(20):
        before = w.detach().clone()
        w.grad = torch.zeros(2, dtype=torch.float64)  # no gradient: the step is the decay alone
        optimizer.step()
        shrinks.append(float(w.detach()[0] / before[0]))
        scheduler.step()
    assert min(shrinks) == pytest.approx(1 - 0.01, abs=1e-4)  # at the peak: 1 − λ, not 1 − 25·λ
    assert all(s >= 1 - 0.01 - 1e-12 for s in shrinks)


def torch_adam_checkpoint(method, steps=5):
    """A torch optimizer's state after ``steps`` steps, with ``step`` saved as an int (torch < 1.12)."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    theirs = (torch.optim.AdamW if method == "adamw-torch" else torch.optim.Adam)(
        [w], lr=0.05, weight_decay=0.1 if method in ("adaml2", "adamw-torch") else 0.0
    )
    grads = [torch.randn(4, 3, dtype=torch.float64) for _ in range(2 * steps)]
    for g in grads[:steps]:
        w.grad = g.clone()
        theirs.step()
    saved = copy.deepcopy(theirs.state_dict())
    for state in saved["state"].values():
        state["step"] = int(state["step"])
    return w, theirs, saved, grads[steps:]


@pytest.mark.parametrize("method", ADAM_METHODS)
def test_an_int_step_checkpoint_loads_into_every_adam_rule_and_continues_as_torch(method):
    w, theirs, saved, later = torch_adam_checkpoint(method)
    ours_w = torch.nn.Parameter(w.detach().clone())
    ours = make_optimizer(method, [ours_w], lr=0.05, weight_decay=0.1 if METHODS[method].takes_weight_decay else 0)
    ours.load_state_dict(saved)
    twin_w = torch.nn.Parameter(w.detach().clone())  # the same state with tensor steps
    twin = make_optimizer(method, [twin_w], lr=0.05, weight_decay=0.1)
    twin.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for g in later:
        w.grad, ours_w.grad, twin_w.grad = g.clone(), g.clone(), g.clone()
        theirs.step(), ours.step(), twin.step()
    assert torch.is_tensor(ours.state[ours_w]["step"])
    torch.testing.assert_close(ours_w.detach(), twin_w.detach(), rtol=1e-12, atol=1e-14)
    if method in ("adam", "adaml2", "adamw-torch"):  # the rules torch has too: identical to torch
        torch.testing.assert_close(ours_w.detach(), w.detach(), rtol=1e-12, atol=1e-14)


def test_a_maximize_checkpoint_from_torch_is_honoured():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    theirs = torch.optim.AdamW([w], lr=0.05, weight_decay=0.1, maximize=True)
    grads = [torch.randn(5, dtype=torch.float64) for _ in range(20)]
    for g in grads[:10]:
        w.grad = g.clone()
        theirs.step()
    ours_w = torch.nn.Parameter(w.detach().clone())
    ours = AdamW([ours_w], convention="torch")
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    for g in grads[10:]:
        w.grad, ours_w.grad = g.clone(), g.clone()
        theirs.step(), ours.step()
    torch.testing.assert_close(ours_w.detach(), w.detach(), rtol=1e-12, atol=1e-14)
