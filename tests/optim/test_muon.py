"""Muon: torch-form equals torch.optim.Muon (both adjust_lr_fn, 200 scheduled steps), the paper form decays by
η_t·λ, checkpoints move both ways, a stack of members trains as its members alone, the parameters that are not
matrices take Adam's direction in the same optimizer, and every rule follows its float64 formula."""

import copy
import math

import pytest
import torch

from decaylab.optim import AdamW, Muon, MuonCore, param_groups
from decaylab.optim.reference import orthogonalized
from decaylab.optim.rules import CORRECTED, EUCLIDEAN_PROXIMAL_L2, PROXIMAL_L1, PROXIMAL_L2

from .reference import NEWTON_SCHULZ, newton_schulz
from .scheduled import cosine, gradient_of, trained

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

    def stack(p):
        return Muon([{"params": p, "direction": "muon"}], lr=lrs, weight_decay=decays)

    stacked = run(stack, START.expand(2, 6, 4).clone(), steps=20)
    for member, (lr, decay) in enumerate(zip(lrs.tolist(), decays.tolist(), strict=True)):
        alone = run(lambda p, lr=lr, decay=decay: Muon(p, lr=lr, weight_decay=decay), START, steps=20)
        assert torch.allclose(stacked[member], alone, rtol=0, atol=2e-3), member  # measured: 0 and 6.8e-4


def test_our_checkpoint_continues_identically_in_torch_optim_muon():
    ours_param = torch.nn.Parameter(START.clone())
    ours = Muon([ours_param], lr=ALPHA, weight_decay=DECAY, convention="torch")
    for step in range(5):
        ours_param.grad = gradient(ours_param.detach(), step)
        ours.step()
    theirs_param = torch.nn.Parameter(ours_param.detach().clone())
    theirs = torch.optim.Muon([theirs_param], lr=ALPHA, weight_decay=DECAY)
    theirs.load_state_dict(copy.deepcopy(ours.state_dict()))
    for step in range(5, 10):
        for parameter, optimizer in ((theirs_param, theirs), (ours_param, ours)):
            parameter.grad = gradient(parameter.detach(), step)
            optimizer.step()
    assert torch.allclose(ours_param, theirs_param, rtol=0, atol=1e-12)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(7, 4)
        self.hidden = torch.nn.Linear(4, 6)
        self.norm = torch.nn.LayerNorm(6)
        self.head = torch.nn.Linear(6, 3)


def test_the_split_is_in_param_groups_and_follows_the_users_groups():
    model = Tiny()
    split = Muon(model.parameters())
    by_direction = {group["direction"]: {id(p) for p in group["params"]} for group in split.param_groups}
    matrices = {id(p) for p in model.parameters() if p.ndim == 2}
    assert by_direction == {"muon": matrices, "adam": {id(p) for p in model.parameters()} - matrices}
    groups = param_groups(model, 0.1, muon=True, adam_for=("head",))
    chosen = Muon(groups)
    muon_params = [p for g in chosen.param_groups if g["direction"] == "muon" for p in g["params"]]
    assert muon_params == [model.hidden.weight]  # the embedding and the head chosen for Adam
    assert len(chosen.param_groups) == len(groups) == 3  # decayed: muon, adam; not decayed: adam


def test_the_parameters_that_are_not_matrices_take_adamw_in_the_same_optimizer():
    """A bias in a Muon optimizer steps as the same rule's AdamW steps it, with Muon's Adam hyperparameters."""
    bias = torch.randn(5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    options = {"lr": ALPHA, "weight_decay": DECAY}
    in_muon = trained(lambda p: Muon(p, **options, adam_betas=(0.8, 0.99), adam_eps=1e-6), bias, 50, gradient)
    adamw = trained(lambda p: AdamW(p, **options, betas=(0.8, 0.99), eps=1e-6, convention="paper"), bias, 50, gradient)
    assert torch.allclose(in_muon, adamw, rtol=0, atol=1e-14)


@pytest.mark.parametrize("ns_dtype", ["float32", "float64"])
def test_newton_schulz_in_a_wider_float_is_the_same_iteration_without_bfloat16s_rounding(ns_dtype):
    update = torch.randn(6, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    exact = torch.from_numpy(newton_schulz(update.numpy()))
    wide = orthogonalized(update, NEWTON_SCHULZ, 5, 1e-7, ns_dtype).double()
    narrow = orthogonalized(update, NEWTON_SCHULZ, 5, 1e-7).double()
    assert (wide - exact).abs().max() < {"float32": 1e-5, "float64": 1e-12}[ns_dtype]
    assert (narrow - exact).abs().max() > 1e-4  # bfloat16 is another number: the option matters


def by_hand(weight, rule):
    """The float64 formula of Muon under ``rule``, written here: Nesterov momentum, Newton–Schulz, step r·lr_t."""
    momentum, ratio = torch.zeros_like(weight), math.sqrt(max(1.0, weight.shape[0] / weight.shape[1]))
    for step in range(STEPS):
        eta = cosine(step, STEPS)
        lr, grad = ALPHA * eta, gradient(weight, step)
        momentum = 0.95 * momentum + 0.05 * grad
        u = ratio * torch.from_numpy(newton_schulz((0.05 * grad + 0.95 * momentum).numpy()))
        if rule == "prox":
            weight = (weight - lr * u) / (1 + eta * DECAY)
        elif rule == "corrected":
            weight = (1 - lr * eta * DECAY) * weight - lr * u
        else:  # the ℓ1 prox: soft-threshold by η_t·λ
            z = weight - lr * u
            weight = z.sign() * (z.abs() - eta * DECAY).clamp(min=0)
    return weight


@pytest.mark.parametrize(("rule", "name"), [(PROXIMAL_L2, "prox"), (CORRECTED, "corrected"), (PROXIMAL_L1, "l1")])
def test_every_other_rule_follows_its_formula(rule, name):
    ours = run(lambda p: MuonCore(p, rule, lr=ALPHA, weight_decay=DECAY, ns_dtype="float64"), START)
    assert torch.allclose(ours, by_hand(START, name), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Muon([{"params": [torch.nn.Parameter(torch.ones(3))], "direction": "muon"}]), "matrices"),
        (lambda: Muon([{"params": [torch.nn.Parameter(torch.ones(2, 2))], "direction": "sgd"}]), "direction"),
        (
            lambda: Muon(
                [{"params": [torch.nn.Parameter(torch.ones(2, 2, dtype=torch.complex64))], "direction": "muon"}]
            ),
            "real matrices",
        ),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], adjust_lr_fn="sqrt"), "adjust_lr_fn"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], ns_dtype="float16"), "ns_dtype"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], momentum=-1.0), "momentum"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], adam_betas=(1.0, 0.9)), "betas"),
        (lambda: Muon([torch.nn.Parameter(torch.ones(2, 2))], convention="jax"), "convention"),
        (lambda: MuonCore([torch.nn.Parameter(torch.ones(2, 2))], EUCLIDEAN_PROXIMAL_L2), "adaptive norm"),
    ],
)
def test_a_bad_argument_is_refused_by_name(build, words):
    with pytest.raises(ValueError, match=words):
        build()


def test_named_parameters_complex_matrices_and_stacked_groups_take_the_right_direction():
    model = Tiny()
    named = Muon(model.named_parameters())
    assert [g["direction"] for g in named.param_groups] == ["muon", "adam"]
    assert named.param_groups[0]["param_names"] == ["embed.weight", "hidden.weight", "head.weight"]
    complex_matrix = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.complex128))
    assert Muon([complex_matrix]).param_groups[0]["direction"] == "adam"  # as its pairs of reals
    stacked = [torch.nn.Parameter(torch.ones(4, 5, 6)), torch.nn.Parameter(torch.ones(4, 6))]
    with pytest.raises(ValueError, match="stacked members must say its direction"):  # a stacked bias is 2-D
        Muon(stacked, lr=torch.full((4,), 1e-2))


def test_a_bad_half_leaves_the_optimizer_as_it_was():
    optimizer = Muon([torch.nn.Parameter(torch.ones(2, 2))])
    with pytest.raises(ValueError, match="adam_eps"):
        optimizer.add_param_group({"params": [torch.nn.Parameter(torch.ones(3, 3)), torch.ones(3)], "adam_eps": -1.0})
    assert len(optimizer.param_groups) == 1


def test_every_scheduler_drives_both_directions_decay_by_the_same_eta():
    """With no gradient, paper-form Muon only decays: ``w_t = Π (1 − η_k·λ)·w_0`` on the matrices and on the
    parameters Adam's direction takes, ``η_k`` as each of torch's schedulers sets it."""
    from .test_schedulers import LR, STEPS, schedulers

    for name in schedulers(Muon([torch.nn.Parameter(torch.ones(2, 2))])):
        matrix = torch.nn.Parameter(torch.ones(3, 2, dtype=torch.float64))
        bias = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
        optimizer = Muon([matrix, bias], lr=LR, weight_decay=0.2)
        scheduler, expected = schedulers(optimizer)[name](), 1.0
        for _ in range(STEPS):
            for param in (matrix, bias):
                param.grad = torch.zeros_like(param)
            etas = {optimizer.learning_rate(group)[1] for group in optimizer.param_groups}
            assert len(etas) == 1, name
            expected *= 1 - 0.2 * etas.pop()
            optimizer.step()
            scheduler.step(1.0) if name == "ReduceLROnPlateau" else scheduler.step()
        assert [group["direction"] for group in optimizer.param_groups] == ["muon", "adam"]
        for param in (matrix, bias):
            assert torch.allclose(param.detach(), torch.full_like(param, expected), rtol=1e-12), name


def test_the_designs_contract_names_are_the_classes():
    from decaylab.optim import Lion, LionW, MuonW

    assert MuonW is Muon and LionW is Lion


@pytest.mark.parametrize(
    ("option", "message"),
    [({"eps": math.nan}, "eps"), ({"ns_steps": 0}, "ns_steps"), ({"ns_steps": 2.5}, "ns_steps"),
     ({"momentum": 1.5}, "momentum"), ({"momentum": math.nan}, "momentum")],
)  # fmt: skip
def test_every_muon_hyperparameter_is_checked(option, message):
    with pytest.raises(ValueError, match=message):
        Muon([torch.nn.Parameter(torch.ones(3, 2))], lr=1e-2, **option)
