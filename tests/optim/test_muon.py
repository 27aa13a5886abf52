"""Muon: torch-form equals torch.optim.Muon (both adjust_lr_fn, 200 scheduled steps), the paper form decays by
η_t·λ, checkpoints move both ways, and a stack of members trains as its members alone."""

import copy

import pytest
import torch

from decaylab.optim import Muon

from .scheduled import gradient_of, trained

STEPS, ALPHA, DECAY = 200, 2e-2, 0.1
START = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
gradient = gradient_of(0.5)


def run(optimizer_of, weight=START, steps=STEPS):
    return trained(optimizer_of, weight, steps, gradient)


@pytest.mark.parametrize("adjust_lr_fn", [None, "match_rms_adamw"])
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
@pytest.mark.parametrize("implementation", ["auto", "reference"])  # in place as torch's, and as the formula
def test_the_torch_form_is_torch_optim_muon(adjust_lr_fn, dtype, tolerance, shape, implementation):
    start = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    options = {"lr": ALPHA, "weight_decay": DECAY, "adjust_lr_fn": adjust_lr_fn}
    ours = run(lambda p: Muon(p, **options, convention="torch", implementation=implementation), start)
    theirs = run(lambda p: torch.optim.Muon(p, **options), start)
    assert torch.allclose(ours, theirs, rtol=0, atol=tolerance), (ours - theirs).abs().max()


def test_the_paper_form_is_the_torch_form_under_lambda_paper_equal_to_alpha_lambda_torch():
    paper = run(lambda p: Muon(p, lr=ALPHA, weight_decay=ALPHA * DECAY))
    torch_form = run(lambda p: Muon(p, lr=ALPHA, weight_decay=DECAY, convention="torch"))
    assert torch.allclose(paper, torch_form, rtol=0, atol=1e-12)


def test_a_checkpoint_of_torch_optim_muon_continues_identically_in_torch_form_muon():
    theirs_param = torch.nn.Parameter(START.clone())
    theirs = torch.optim.Muon([theirs_param], lr=ALPHA, weight_decay=DECAY)
    for step in range(5):
        theirs_param.grad = gradient(theirs_param.detach(), step)
        theirs.step()
    ours_param = torch.nn.Parameter(theirs_param.detach().clone())
    ours = Muon([ours_param], lr=ALPHA, weight_decay=DECAY, convention="torch")
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))  # torch's own load shares the tensors
    for step in range(5, 10):
        for parameter, optimizer in ((theirs_param, theirs), (ours_param, ours)):
            parameter.grad = gradient(parameter.detach(), step)
            optimizer.step()
    assert torch.allclose(ours_param, theirs_param, rtol=0, atol=1e-12)


def test_a_stack_of_members_trains_as_each_member_alone():
    """Newton–Schulz over ``(M, A, B)`` is a batched matmul in bfloat16, equal to the members' own to its rounding."""
    lrs, decays = torch.tensor([1e-2, 3e-2], dtype=torch.float64), torch.tensor([0.0, 0.1])
    stacked = run(lambda p: Muon(p, lr=lrs, weight_decay=decays), START.expand(2, 6, 4).clone(), steps=20)
    for member, (lr, decay) in enumerate(zip(lrs.tolist(), decays.tolist(), strict=True)):
        alone = run(lambda p, lr=lr, decay=decay: Muon(p, lr=lr, weight_decay=decay), START, steps=20)
        assert torch.allclose(stacked[member], alone, rtol=0, atol=2e-3), member  # measured: 0 and 6.8e-4


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Muon([torch.nn.Parameter(torch.ones(3))]), "matrices"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], adjust_lr_fn="sqrt"), "adjust_lr_fn"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], momentum=-1.0), "momentum"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], convention="jax"), "convention"),
    ],
)
def test_a_bad_argument_is_refused_by_name(build, words):
    with pytest.raises(ValueError, match=words):
        build()
