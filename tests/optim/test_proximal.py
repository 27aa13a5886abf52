"""Acceptance 3: ProxAdam and AdamP steps solve the minimization problems the post writes."""

import functools
import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar

from decaylab.optim import AdamP, AdamW, ProxAdam, ProxSGD

ALPHA, ETA, LAMBDA = 0.05, 0.6, 0.4


def one_scheduled_step(optimizer_class, w0: torch.Tensor, grads: list[torch.Tensor], **kwargs):
    """Run ``len(grads)`` steps with ``η = ETA``; return ``(w_{t-1}, w_t, m̂_t, D_t)`` of the last."""
    w = torch.nn.Parameter(w0.clone())
    optimizer = optimizer_class([w], lr=ALPHA, weight_decay=LAMBDA, **kwargs)
    for group in optimizer.param_groups:
        group["lr"] = ALPHA * ETA  # η_t = lr_t / α
    for g in grads:
        before = w.detach().clone()
        w.grad = g.clone()
        optimizer.step()
    state = optimizer.state[w]
    t = float(state["step"])
    beta1, beta2 = optimizer.param_groups[0]["betas"]
    m_hat = state["exp_avg"] / (1 - beta1**t)
    D = optimizer.param_groups[0]["eps"] + (state["exp_avg_sq"] / (1 - beta2**t)).sqrt()
    return before, w.detach().clone(), m_hat, D


@pytest.fixture
def problem():
    generator = torch.Generator().manual_seed(0)
    w0 = torch.randn(8, dtype=torch.float64, generator=generator)
    grads = [torch.randn(8, dtype=torch.float64, generator=generator) for _ in range(3)]
    return w0, grads


def numerical_minimizer(objective, start: np.ndarray) -> np.ndarray:
    return minimize(objective, start, method="BFGS", options={"gtol": 1e-12}).x


def test_proxadam_step_solves_P1(problem):
    """(P1): argmin ⟨y − w, m̂⟩ + λ/(2α)‖y‖²_D + 1/(2αη)‖y − w‖²_D."""
    w_prev, w_new, m_hat, D = one_scheduled_step(ProxAdam, *problem)
    residual = m_hat + LAMBDA / ALPHA * D * w_new + D * (w_new - w_prev) / (ALPHA * ETA)
    assert residual.abs().max() <= 1e-10
    w, m, d = (x.numpy() for x in (w_prev, m_hat, D))

    def objective(y):
        return (y - w) @ m + LAMBDA / (2 * ALPHA) * (d * y * y).sum() + (d * (y - w) ** 2).sum() / (2 * ALPHA * ETA)

    assert np.abs(numerical_minimizer(objective, w) - w_new.numpy()).max() <= 1e-6


def test_adamp_step_solves_the_euclidean_problem(problem):
    """argmin ⟨y − w, m̂⟩ + λ/2‖y‖² + 1/(2ηα)‖y − w‖²_D."""
    w_prev, w_new, m_hat, D = one_scheduled_step(AdamP, *problem)
    residual = m_hat + LAMBDA * w_new + D * (w_new - w_prev) / (ALPHA * ETA)
    assert residual.abs().max() <= 1e-10
    w, m, d = (x.numpy() for x in (w_prev, m_hat, D))

    def objective(y):
        return (y - w) @ m + LAMBDA / 2 * (y * y).sum() + (d * (y - w) ** 2).sum() / (2 * ALPHA * ETA)

    assert np.abs(numerical_minimizer(objective, w) - w_new.numpy()).max() <= 1e-6


def test_l1_proxadam_step_solves_its_problem(problem):
    """argmin ⟨y − w, m̂⟩ + (λ/α)‖D y‖₁ + 1/(2αη)‖y − w‖²_D, coordinate by coordinate."""
    w_prev, w_new, m_hat, D = one_scheduled_step(ProxAdam, *problem, penalty="l1")
    assert (w_new == 0).any() and (w_new != 0).any(), "the threshold should zero some weights, not all"
    for w, m, d, y_star in zip(w_prev.tolist(), m_hat.tolist(), D.tolist(), w_new.tolist()):

        def objective(y, w=w, m=m, d=d):
            return (y - w) * m + LAMBDA / ALPHA * d * abs(y) + d * (y - w) ** 2 / (2 * ALPHA * ETA)

        found = minimize_scalar(objective, bounds=(-10, 10), method="bounded", options={"xatol": 1e-12}).x
        assert abs(found - y_star) <= 1e-6


def test_proxadam_is_paper_adamw_to_first_order(problem):
    """ProxAdam − AdamW = x/(1+x)·(x·w + lr·u) with x = η·λ: second order in the small (λ, α).

    The post's Taylor argument treats both coefficients as small; shrinking λ and α together
    by 10 must shrink the gap between the two steps by about 100.
    """
    w0, grads = problem
    gaps = []
    for scale in (1e-1, 1e-2, 1e-3):
        steps = []
        for cls in (ProxAdam, functools.partial(AdamW, convention="paper")):
            w = torch.nn.Parameter(w0.clone())
            optimizer = cls([w], lr=ALPHA * scale, weight_decay=LAMBDA * scale)
            w.grad = grads[0].clone()
            optimizer.step()
            steps.append(w.detach())
        gaps.append(float((steps[0] - steps[1]).abs().max()))
    assert gaps[0] > 0
    for larger, smaller in itertools.pairwise(gaps):
        assert 90 < larger / smaller < 110


def test_proxsgd_step_solves_its_problem(problem):
    """argmin ⟨y − w, v⟩ + λ/(2α)‖y‖² + 1/(2αη)‖y − w‖², v the momentum of the gradients."""
    w0, grads = problem
    w = torch.nn.Parameter(w0.clone())
    optimizer = ProxSGD([w], lr=ALPHA, momentum=0.9, weight_decay=LAMBDA)
    optimizer.param_groups[0]["lr"] = ALPHA * ETA
    for g in grads:
        before = w.detach().clone()
        w.grad = g.clone()
        optimizer.step()
    v = optimizer.state_dict()["state"][0]["momentum_buffer"]
    residual = v + LAMBDA / ALPHA * w.detach() + (w.detach() - before) / (ALPHA * ETA)
    assert residual.abs().max() <= 1e-10
    momentum = grads[0]
    for g in grads[1:]:
        momentum = 0.9 * momentum + g
    torch.testing.assert_close(v, momentum)  # the buffer is the gradients' momentum: no decay in it
