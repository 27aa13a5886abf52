"""torch.optim's contract, kept by every class: copies, complex and strided parameters, odd lr shapes,
torch.compile, atomic param groups, maximize and GradScaler."""

import copy
import pickle
import warnings

import pytest
import torch

from decaylab.optim import METHODS, AdamW, make_optimizer

TWINS = {
    "adam": lambda p, **kw: torch.optim.Adam(p, lr=kw["lr"]),
    "adaml2": lambda p, **kw: torch.optim.Adam(p, lr=kw["lr"], weight_decay=kw["weight_decay"]),
    "adamw-torch": lambda p, **kw: torch.optim.AdamW(p, lr=kw["lr"], weight_decay=kw["weight_decay"]),
    "sgdl2": lambda p, **kw: torch.optim.SGD(p, lr=kw["lr"], momentum=0.9, weight_decay=kw["weight_decay"]),
}
"""Each rule that torch.optim has too, built with torch's own class."""


def build(method, params, **options):
    return make_optimizer(method, params, lr=0.05, weight_decay=0.1, momentum=0.9, **options)


def gradients(shape, steps, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, dtype=dtype, generator=generator) for _ in range(steps)]


def run(optimizer, params, grads_per_param):
    for grads in zip(*grads_per_param):
        for param, grad in zip(params, grads):
            param.grad = grad.clone()
        optimizer.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("way", ["deepcopy", "pickle"])
def test_a_copy_steps_exactly_like_the_original(method, way):
    w = torch.nn.Parameter(torch.randn(3, 4, dtype=torch.float64))
    optimizer = build(method, [w])
    run(optimizer, [w], [gradients((3, 4), 3)])
    twin = copy.deepcopy(optimizer) if way == "deepcopy" else pickle.loads(pickle.dumps(optimizer))
    (w_twin,) = twin.param_groups[0]["params"]
    later = gradients((3, 4), 3, seed=1)
    assert torch.equal(run(optimizer, [w], [later])[0], run(twin, [w_twin], [later])[0])
    assert twin.rule == optimizer.rule and twin.implementation == optimizer.implementation


def test_complex_parameters_are_pairs_of_reals(method):
    """A complex parameter trains as its (real, imag) view would, and as torch's own twin trains it."""
    complex_w = torch.nn.Parameter(torch.randn(5, dtype=torch.complex128, generator=torch.Generator().manual_seed(2)))
    real_w = torch.nn.Parameter(torch.view_as_real(complex_w.detach()).clone())
    grads = gradients((5, 2), 6)
    as_reals_group = {"params": [real_w], "direction": "adam"} if METHODS[method].family == "muon" else real_w
    ours = run(build(method, [complex_w]), [complex_w], [[torch.view_as_complex(g) for g in grads]])[0]
    as_reals = run(build(method, [as_reals_group]), [real_w], [grads])[0]  # Muon: the pairs are not a matrix
    torch.testing.assert_close(torch.view_as_real(ours), as_reals, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", list(TWINS))
def test_complex_parameters_match_torch(method):
    start = torch.randn(5, dtype=torch.complex128, generator=torch.Generator().manual_seed(3))
    grads = [torch.view_as_complex(g) for g in gradients((5, 2), 6)]
    ours, theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    ours = run(build(method, [ours]), [ours], [grads])[0]
    theirs = run(TWINS[method]([theirs], lr=0.05, weight_decay=0.1), [theirs], [grads])[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)


def test_non_contiguous_parameters_and_gradients_are_updated_correctly(method):
    """A transposed parameter (and gradients with other strides) cannot take the fused kernels."""
    start = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    strided = torch.nn.Parameter(start.t().contiguous().t())  # the same values, column-major
    dense = torch.nn.Parameter(start.clone())
    assert not strided.is_contiguous()
    grads = gradients((4, 3), 5)
    expected = run(build(method, [dense]), [dense], [grads])[0]
    actual = run(build(method, [strided]), [strided], [grads])[0]  # row-major gradients of a column-major weight
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("implementation", ["auto", "reference"])
def test_a_one_element_lr_of_any_shape_is_one_number(method, implementation):
    bias = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))
    twin = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))
    grads = gradients(10, 3)
    options = {"lr": torch.tensor([[0.05]], dtype=torch.float64), "momentum": 0.9, "implementation": implementation,
               "weight_decay": torch.tensor([0.1], dtype=torch.float64)}  # fmt: skip
    shaped = run(make_optimizer(method, [bias], **options), [bias], [grads])[0]
    plain = run(build(method, [twin], implementation=implementation), [twin], [grads])[0]
    torch.testing.assert_close(shaped, plain, rtol=1e-12, atol=1e-14)


def test_torch_compile_of_the_step_runs_the_default_path(method):
    params = [torch.nn.Parameter(torch.randn(6, dtype=torch.float64)) for _ in range(2)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    optimizer, eager = build(method, params), build(method, twins)
    step = torch.compile(optimizer.step, backend="aot_eager")  # functionalizes the step, as inductor would
    for grads in zip(gradients(6, 3), gradients(6, 3, seed=5)):
        for p, t, g in zip(params, twins, grads):
            p.grad, t.grad = g.clone(), g.clone()
        step()
        eager.step()
    for p, t in zip(params, twins):
        torch.testing.assert_close(p.detach(), t.detach(), rtol=1e-12, atol=1e-14)


def test_add_param_group_is_all_or_nothing(method):
    optimizer = build(method, [torch.nn.Parameter(torch.ones(2))])
    extra = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="lr"):
        optimizer.add_param_group({"params": [extra], "lr": -1.0})
    assert len(optimizer.param_groups) == 1
    optimizer.add_param_group({"params": [extra], "lr": 1e-3})  # the corrected retry is accepted
    assert len(optimizer.param_groups) == 2


def test_maximize_in_a_param_group_climbs(method):
    """Maximizing f is minimizing −f: the same trajectory as a negated gradient."""
    up, down = (torch.nn.Parameter(torch.ones(4, dtype=torch.float64)) for _ in range(2))
    grads = gradients(4, 5)
    climbing = build(method, [{"params": [up], "maximize": True}])
    assert torch.equal(run(climbing, [up], [grads])[0], run(build(method, [down]), [down], [[-g for g in grads]])[0])


def test_a_grad_scaler_skips_the_step_when_gradients_overflow(method):
    w = torch.nn.Parameter(torch.ones(4))
    optimizer = build(method, [w])
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((w * torch.tensor([1.0, float("inf"), 1.0, 1.0])).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    assert torch.equal(w.detach(), torch.ones(4)) and not optimizer.state[w]
    optimizer.zero_grad()
    scaler.scale((w * 2).sum()).backward()
    scaler.step(optimizer)
    assert not torch.equal(w.detach(), torch.ones(4))


@pytest.mark.parametrize("flag", ["amsgrad", "capturable", "differentiable"])
def test_a_flag_decaylab_does_not_implement_is_refused_not_ignored(flag):
    theirs = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))], **{flag: True})
    ours = AdamW([torch.nn.Parameter(torch.ones(2))], convention="torch")
    with pytest.raises(ValueError, match=flag):
        ours.load_state_dict(theirs.state_dict())
    with pytest.raises(ValueError, match=flag):
        AdamW([{"params": [torch.nn.Parameter(torch.ones(2))], flag: True}])


def test_every_class_is_covered():
    assert {type(build(m, [torch.nn.Parameter(torch.ones(1))])).__name__ for m in METHODS} == {
        "Adam", "AdamL2", "AdamW", "ProxAdam", "AdamP", "AdamC", "SGDL2", "SGDW", "ProxSGD", "Lion", "LionL2",
        "Muon", "MuonL2",
    }  # fmt: skip


def test_a_load_state_dict_post_hook_may_write_a_flag_into_the_state(method):
    """torch's own test shape: a post-hook writes a non-dict value into ``optimizer.state``; loading and
    stepping go on (a ``bool`` there once raised ``argument of type 'bool' is not iterable``)."""
    weight = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    optimizer = make_optimizer(method, [weight], lr=1e-2, weight_decay=1e-3, momentum=0.9)
    weight.grad = torch.ones_like(weight)
    optimizer.step()

    def post_hook(optimizer):
        optimizer.state["ran_load_state_dict_post_hook"] = True

    optimizer.register_load_state_dict_post_hook(post_hook)
    optimizer.load_state_dict(optimizer.state_dict())
    assert optimizer.state["ran_load_state_dict_post_hook"] is True
    optimizer.step()
    optimizer.state_dict()


def trained(optimizer_class, **options):
    weight = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    optimizer = optimizer_class([weight], lr=1e-3, **options)
    weight.grad = torch.full_like(weight, 0.5)
    optimizer.step()
    return optimizer


def test_torch_adamws_checkpoint_in_paper_adamw_warns_once_and_says_how_to_convert():
    checkpoint = trained(torch.optim.AdamW, weight_decay=1e-2).state_dict()
    paper = trained(AdamW, weight_decay=0.0)
    with pytest.warns(UserWarning, match=r"convert_weight_decay\(λ, lr, 'torch', 'paper'\)") as caught:
        paper.load_state_dict(checkpoint)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its own torch form takes torch's λ as it is
        trained(AdamW, convention="torch").load_state_dict(checkpoint)


def test_a_checkpoint_of_the_other_convention_is_converted_exactly_and_of_another_kind_refused():
    torch_form = trained(AdamW, weight_decay=10.0, convention="torch")  # decay α·λ = 1e-2 per step
    paper = trained(AdamW, weight_decay=0.0)
    paper.load_state_dict(torch_form.state_dict())
    assert paper.param_groups[0]["weight_decay"] == pytest.approx(1e-2)
    back = trained(AdamW, convention="torch")
    back.load_state_dict(paper.state_dict())
    assert back.param_groups[0]["weight_decay"] == pytest.approx(10.0)
    from decaylab.optim import AdamL2

    with pytest.raises(ValueError, match="penalty"):
        trained(AdamL2).load_state_dict(paper.state_dict())  # a decay per step is no penalty weight


def test_state_dict_is_the_same_after_a_load(method):
    """torch's ``test_state_dict_deterministic`` shape: a trained optimizer's state dict loaded into a fresh one
    of a copy of the parameters gives back the same state dict, and both step alike (Muon's load once added a
    ``differentiable`` key to every group)."""
    weight = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    bias = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    optimizer = build(method, [weight, bias])
    grads = [gradients((4, 3), 3), gradients((4,), 3, seed=2)]
    run(optimizer, [weight, bias], grads)
    twin_params = [torch.nn.Parameter(p.detach().clone()) for p in (weight, bias)]
    twin = build(method, twin_params)
    saved = optimizer.state_dict()
    twin.load_state_dict(copy.deepcopy(saved))
    reloaded = twin.state_dict()
    assert reloaded["param_groups"] == saved["param_groups"]
    assert reloaded["state"].keys() == saved["state"].keys()
    for index, state in saved["state"].items():
        assert state.keys() == reloaded["state"][index].keys()
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(reloaded["state"][index][name])), name
    later = [gradients((4, 3), 2, seed=3), gradients((4,), 2, seed=4)]
    for ours, theirs in zip(run(optimizer, [weight, bias], later), run(twin, twin_params, later)):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize(
    ("saved", "loaded", "family"),
    [("lionw", "proxadam", "a Lion optimizer"), ("adamw", "muonw", "an Adam-type optimizer"),
     ("sgdw", "adamw", "an SGD optimizer"), ("muonw", "sgdw", "a Muon optimizer"),
     ("proxadam", "lionw", "an Adam-type optimizer"), ("adam", "lionw", "an Adam-type optimizer")],
)  # fmt: skip
def test_a_checkpoint_of_another_kind_of_optimizer_is_refused_in_one_line_naming_both(saved, loaded, family):
    """A Lion state dict loaded into ProxAdam once loaded silently and failed at the first step with KeyError."""
    weight = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    source = build(saved, [weight])
    run(source, [weight], [gradients((4, 3), 2)])
    target = build(loaded, [torch.nn.Parameter(weight.detach().clone())])
    with pytest.raises(ValueError, match=f"saved by {family}.*not by a {type(target).__name__}"):
        target.load_state_dict(source.state_dict())
