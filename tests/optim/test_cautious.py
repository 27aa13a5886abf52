"""Cautious weight decay (Chen et al. 2025): the decay of a rule, only where the step and the weight agree in sign,
on Adam and Lion, against float64 formulas written here, on every path and per member."""

import pytest
import torch

from decaylab.optim import AdamW, Lion

from .scheduled import cosine, gradient_of, trained

STEPS, ALPHA, DECAY = 100, 1e-2, 0.5
CLOSE = 1e-6
"""The mask is a step function of ``u·w``: where a rounding difference of 1e-16 flips it, the weight is near 0
and the flip moves it by ``decay·|w|``, so two correct computations agree to about this, not to 1e-10."""
START = torch.randn(4, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


gradient = gradient_of(0.3)


def run(optimizer_of, weight):
    return trained(optimizer_of, weight, STEPS, gradient)


def adamw_by_hand(weight, convention, betas=(0.9, 0.999), eps=1e-8):
    """Adam's direction u = m̂/(ε + √v̂); w ← w − mask·(decay)·w − lr_t·u with mask = [u·w ≥ 0]."""
    beta1, beta2 = betas
    weight, m, v = weight.clone(), torch.zeros_like(weight), torch.zeros_like(weight)
    for step in range(STEPS):
        eta = cosine(step, STEPS)
        lr, g = ALPHA * eta, gradient(weight, step)
        m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
        u = (m / (1 - beta1 ** (step + 1))) / (eps + (v / (1 - beta2 ** (step + 1))).sqrt())
        decay = (eta if convention == "paper" else lr) * DECAY
        weight = weight - decay * (u * weight >= 0) * weight - lr * u
    return weight


def lion_by_hand(weight, betas=(0.9, 0.99)):
    beta1, beta2 = betas
    weight, m = weight.clone(), torch.zeros_like(weight)
    for step in range(STEPS):
        eta = cosine(step, STEPS)
        lr, g = ALPHA * eta, gradient(weight, step)
        u = torch.sign(beta1 * m + (1 - beta1) * g)
        weight = weight - lr * DECAY * (u * weight >= 0) * weight - lr * u
        m = beta2 * m + (1 - beta2) * g
    return weight


@pytest.mark.parametrize("convention", ["paper", "torch"])
@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_cautious_adamw_follows_its_formula_on_every_path(convention, implementation):
    def build(p):
        return AdamW(p, lr=ALPHA, weight_decay=DECAY, convention=convention, cautious=True,
                     implementation=implementation)  # fmt: skip

    assert torch.allclose(run(build, START), adamw_by_hand(START, convention), rtol=0, atol=CLOSE)
    plain = run(lambda p: AdamW(p, lr=ALPHA, weight_decay=DECAY, convention=convention), START)
    assert (run(build, START) - plain).abs().max() > 1000 * CLOSE  # the mask mattered


def test_cautious_lion_follows_its_formula():
    cautious = run(lambda p: Lion(p, lr=ALPHA, weight_decay=DECAY, convention="torch", cautious=True), START)
    assert torch.allclose(cautious, lion_by_hand(START), rtol=0, atol=CLOSE)


def test_one_step_decays_only_where_the_step_and_the_weight_agree():
    weight = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    optimizer = Lion([weight], lr=0.1, weight_decay=0.5, convention="torch", cautious=True)
    weight.grad = torch.tensor([1.0, -1.0])  # u = sign(g): +1 agrees with w, −1 does not
    optimizer.step()
    assert torch.allclose(weight.detach(), torch.tensor([(1 - 0.1 * 0.5) - 0.1, 1.0 + 0.1]))


def test_per_member_cautious_adamw_trains_each_member_as_its_own_optimizer():
    lrs, decays = torch.tensor([1e-3, 1e-2], dtype=torch.float64), torch.tensor([0.1, 1.0])
    stacked = run(
        lambda p: AdamW(p, lr=lrs, weight_decay=decays, cautious=True, convention="paper"),
        START.expand(2, 4, 7).clone(),
    )
    for member, (lr, decay) in enumerate(zip(lrs.tolist(), decays.tolist(), strict=True)):
        alone = run(
            lambda p, lr=lr, decay=decay: AdamW(p, lr=lr, weight_decay=decay, cautious=True, convention="paper"), START
        )
        assert torch.allclose(stacked[member], alone, rtol=0, atol=CLOSE), member


def test_a_cautious_optimizer_survives_a_deepcopy_and_a_checkpoint():
    import copy

    parameter = torch.nn.Parameter(START.clone())
    optimizer = AdamW([parameter], lr=ALPHA, weight_decay=DECAY, cautious=True, convention="paper")
    assert copy.deepcopy(optimizer).rule.cautious
    parameter.grad = gradient(parameter.detach(), 0)
    optimizer.step()
    again = AdamW([torch.nn.Parameter(START.clone())], lr=ALPHA, weight_decay=DECAY, cautious=True, convention="paper")
    again.load_state_dict(optimizer.state_dict())
    assert again.rule.cautious and again.param_groups[0]["weight_decay_units"] == "paper"
