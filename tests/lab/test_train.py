"""The trainer: each stacked member is the run trained alone; divergence is contained; any model trains."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from decaylab import Metric, Task
from decaylab.lab.runs import RunConfig
from decaylab.lab.task.builtin import datasets, models
from decaylab.lab.task.schedules import cosine, with_warmup
from decaylab.lab.training.loop import set_up, train_unit
from decaylab.lab.training.plain import plain_run
from decaylab.optim import make_optimizer, param_groups

from .cifar_archive import make_cifar_archive
from .tiny_task import make_task

TINY = make_task()


def flat(curves):
    return [value for point in curves for value in point]


def runs(method, grid, epochs=2, task="tiny", **settings):
    return [RunConfig(task, method, lr, decay, seed=3, epochs=epochs, batch_size=50, **settings) for lr, decay in grid]


def ordinary_task(dropout: float = 0.2) -> Task:
    """A plain nn.Sequential with BatchNorm, LayerNorm and Dropout, as a user would write it."""
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(500, 10, generator=generator), torch.randint(0, 3, (500,), generator=generator)
    return Task(
        "ordinary", (x[:200], y[:200]), (x[350:], y[350:]),
        lambda: nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(dropout),
                              nn.Linear(16, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 3)),
        validation=(x[200:350], y[200:350]), epochs=3, batch_size=40, warmup=0.1,
    )  # fmt: skip


def plain_pytorch_run(task: Task, run: RunConfig, muon: bool = False, **options) -> list[tuple[float, float, float]]:
    """The run as a user would train it alone: one ordinary model, a torch-style loop, float64; ``options`` are
    ``param_groups``', and a ``decay_schedule`` of ``cosine`` sets each group's λ to ``λ·½(1 + cos(π t/T))``.

    Returns ``(train_loss, validation_loss, validation_accuracy)`` per epoch.
    """
    torch.manual_seed(run.seed)
    model = task.make_model().double()
    groups = param_groups(model, run.weight_decay, muon=muon, **options)
    optimizer = make_optimizer(run.method, groups, lr=run.lr, betas=run.betas, momentum=run.momentum)
    peaks = [(group["lr"], group["weight_decay"]) for group in optimizer.param_groups]
    batches = torch.Generator().manual_seed(run.seed)
    (x, y), (val_x, val_y) = task.train, task.validation
    steps = math.ceil(len(x) / run.batch_size)
    eta = with_warmup(cosine, run.warmup)
    curves = []
    for epoch in range(run.epochs):
        order = torch.randperm(len(x), generator=batches)
        total = 0.0
        for number, start in enumerate(range(0, len(x), run.batch_size)):
            index = order[start : start + run.batch_size]
            loss = F.cross_entropy(model(x[index].double()), y[index])
            loss.backward()
            step, length = epoch * steps + number, run.epochs * steps
            for group, (lr, decay) in zip(optimizer.param_groups, peaks, strict=True):
                group["lr"] = lr * eta(step, length)
                group["weight_decay"] = decay * (cosine(step, length) if run.decay_schedule == "cosine" else 1.0)
            optimizer.step()
            optimizer.zero_grad()
            total += loss.item() * len(index)
        model.eval()
        with torch.no_grad():
            output = model(val_x.double())
            curves.append((total / len(x), F.cross_entropy(output, val_y).item(),
                           (output.argmax(1) == val_y).double().mean().item()))  # fmt: skip
        model.train()
    return curves


@pytest.mark.parametrize("method", ["adamw", "adaml2", "adamp", "sgdw"])  # Lion: see design notes
def test_each_member_equals_the_model_trained_alone_in_a_plain_pytorch_loop(method):
    """Dropout, BatchNorm running statistics (the validation loss is measured in eval mode), LayerNorm."""
    task = ordinary_task()
    grid = runs(method, [(1e-2, 1e-2), (3e-3, 0.0), (3e-2, 1e-3)], epochs=3, warmup=0.1)
    together = train_unit(task, grid, dtype=torch.float64)
    for run, stacked in zip(grid, together):
        assert stacked.status == "done"
        expected = plain_pytorch_run(task, run)
        for (epoch, *measured), reference in zip(stacked.curves, expected, strict=True):
            assert measured == pytest.approx(reference, rel=1e-9, abs=1e-12), (run.lr, run.weight_decay, epoch)


def test_a_muon_member_is_its_model_trained_alone_with_the_split_param_groups_says():
    """Muon's matrices and Adam's biases and norms, as ``param_groups(model, λ, muon=True)`` splits them. A stack's
    Newton–Schulz is a batched matmul in bfloat16, whose rounding differs from one matrix's: close, not equal."""
    task = ordinary_task()
    grid = runs("muonw", [(1e-2, 1e-2), (3e-3, 0.0)], epochs=2, warmup=0.1)
    together = train_unit(task, grid, dtype=torch.float64)
    for run, stacked in zip(grid, together):
        expected = plain_pytorch_run(task, run, muon=True)
        for (epoch, *measured), reference in zip(stacked.curves, expected, strict=True):
            assert measured == pytest.approx(reference, rel=2e-2), (run.lr, run.weight_decay, epoch)
        adamw = plain_pytorch_run(task, replace(run, method="adamw"))[-1][1:]
        assert measured != pytest.approx(adamw, rel=1e-3)  # Muon's direction, not Adam's: the check can fail


def test_a_practice_reaches_each_member_as_the_plain_loop_applies_it():
    """Every parameter decayed, λ on its own cosine to 0: each member is the plain loop doing both by hand."""
    task = ordinary_task()
    grid = runs("adamw", [(1e-2, 1e-1), (3e-2, 3e-2)], epochs=2, warmup=0.1, decayed="all", decay_schedule="cosine")
    for run, stacked in zip(grid, train_unit(task, grid, dtype=torch.float64)):
        expected = plain_pytorch_run(task, run, decay_all=True)
        for (epoch, *measured), reference in zip(stacked.curves, expected, strict=True):
            assert measured == pytest.approx(reference, rel=1e-9, abs=1e-12), (run.lr, run.weight_decay, epoch)
        usual = plain_pytorch_run(task, replace(run, decay_schedule="constant"))[-1]
        assert stacked.curves[-1][1:] != pytest.approx(usual, rel=1e-6)  # the practice changed the run


def test_muons_adam_half_trains_at_its_own_alpha_and_lambda_in_a_unit():
    task = ordinary_task()
    grid = runs("muonw", [(1e-2, 1e-2), (3e-3, 0.0)], epochs=2, adam_lr=1e-3, adam_weight_decay=0.1)
    for run, stacked in zip(grid, train_unit(task, grid, dtype=torch.float64)):
        expected = plain_pytorch_run(task, run, muon=True, adam_lr=1e-3, adam_weight_decay=0.1)
        for (epoch, *measured), reference in zip(stacked.curves, expected, strict=True):
            assert measured == pytest.approx(reference, rel=2e-2), (run.lr, run.weight_decay, epoch)
        shared = plain_pytorch_run(task, run, muon=True)[-1]
        assert stacked.curves[-1][1] != pytest.approx(shared[0], rel=1e-3)  # its own α and λ changed the run


@pytest.mark.parametrize("method", ["adamw", "muonw"])
def test_a_runs_numbers_do_not_depend_on_which_runs_share_its_unit(method):
    """One dropout mask per run, from the run's seed: alone or beside others, the same run."""
    task = ordinary_task(dropout=0.5)
    grid = runs(method, [(1e-2, 1e-2), (3e-3, 0.0), (3e-2, 1e-3)], epochs=2)
    together = train_unit(task, grid, dtype=torch.float64)
    for i in range(3):
        (alone,) = train_unit(task, [grid[i]], dtype=torch.float64)
        pair = train_unit(task, [grid[i], grid[(i + 1) % 3]], dtype=torch.float64)[0]
        for other in (alone, pair):
            assert other.test == pytest.approx(together[i].test, rel=1e-9)
            assert flat(other.curves) == pytest.approx(flat(together[i].curves), rel=1e-9)


def test_in_float32_a_muon_runs_numbers_are_the_same_to_the_bit_in_any_unit():
    """Muon's bfloat16 orthogonalization makes another run of a last-bit difference. That bit came from
    ``vmap``'s batched matrix products, which round by the unit's size, and from element-wise kernels that
    split a stack into vector lanes and a scalar tail by where a member sat. Muon's members loop on a CPU
    now, and each member is updated on its own slices."""
    task = ordinary_task(dropout=0.0)
    grid = runs("muonw", [(1e-2, 1e-2), (3e-2, 1e-3), (3e-3, 0.0)], epochs=3)
    together = train_unit(task, grid)
    for i in range(3):
        (alone,) = train_unit(task, [grid[i]])
        assert alone.test == together[i].test and alone.curves == together[i].curves, i


def test_a_muon_runs_newton_schulz_type_reaches_its_optimizer_in_a_unit_and_in_the_plain_loop():
    """``ns_dtype`` is part of a run: a float32 Newton–Schulz run is another run than torch's bfloat16 one, and the
    plain loop that reproduces a member trains it the same way."""
    task = ordinary_task(dropout=0.0)
    (bfloat16,) = runs("muonw", [(1e-2, 1e-2)], epochs=2)
    float32 = replace(bfloat16, ns_dtype="float32")
    muon_groups = set_up(task, [float32], torch.float32, "cpu").unit.optimizer.param_groups
    assert {g["ns_dtype"] for g in muon_groups if g["direction"] == "muon"} == {"float32"}
    (stacked,), (torchs,) = train_unit(task, [float32]), train_unit(task, [bfloat16])
    assert flat(stacked.curves) != flat(torchs.curves)
    plain_losses = [curve[0] for curve in plain_run(task, float32).curves]  # training: bfloat16's are 1e-5 apart
    assert [curve[1] for curve in stacked.curves] == pytest.approx(plain_losses, rel=1e-7)
    with pytest.raises(ValueError, match="ns_dtype must be one of"):
        train_unit(task, [replace(bfloat16, ns_dtype="float16")])


def test_a_model_without_a_batching_rule_falls_back_to_a_loop_over_members():
    class Branchy(nn.Module):  # data-dependent control flow: vmap cannot batch it
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(12, 4)

        def forward(self, x):
            h = self.layer(x)
            return h if h.sum() > 0 else -h

    task = Task("branchy", TINY.train, TINY.test, Branchy, epochs=2, batch_size=50)
    grid = runs("adamw", [(1e-2, 1e-2), (3e-3, 0.0)])
    together = train_unit(task, grid, dtype=torch.float64)
    for run, stacked in zip(grid, together):
        (alone,) = train_unit(task, [run], dtype=torch.float64)
        assert flat(stacked.curves) == pytest.approx(flat(alone.curves), rel=1e-9)


def test_a_diverging_member_is_stopped_and_stored_as_diverged_while_the_others_go_on():
    grid = runs("adamw", [(1e-2, 0.0), (1e-2, 1e30), (3e-3, 1e-3)], epochs=3)
    together = train_unit(TINY, grid, dtype=torch.float64)  # (1 − η_t·λ) ≈ −1e30 per step: overflows in ~11
    assert [r.status for r in together] == ["done", "diverged", "done"]
    assert len(together[1].curves) < 3 and together[1].test is None
    for i in (0, 2):
        (alone,) = train_unit(TINY, [grid[i]], dtype=torch.float64)
        assert together[i].curves[-1][1:] == pytest.approx(alone.curves[-1][1:], rel=1e-9)
        assert all(math.isfinite(v) for v in together[i].final)


def test_gradient_clipping_is_per_member():
    task = Task("clipped", TINY.train, TINY.test, TINY.make_model, epochs=1, batch_size=50, clip=0.05)
    grid = runs("adamw", [(1e-2, 0.0), (1.0, 0.0)], epochs=1, clip=0.05)  # the second's gradients are large
    together = train_unit(task, grid, dtype=torch.float64)
    (alone,) = train_unit(task, grid[:1], dtype=torch.float64)
    assert flat(together[0].curves) == pytest.approx(flat(alone.curves), rel=1e-9)
    unclipped = train_unit(task, runs("adamw", [(1e-2, 0.0)], epochs=1), dtype=torch.float64)[0]
    assert flat(unclipped.curves) != pytest.approx(flat(alone.curves), rel=1e-6)


def test_token_ids_stay_integers_and_sequence_targets_train():
    """A language model: integer inputs (B, T), targets (B, T), a lower-is-better metric."""
    text = "the quick brown fox jumps over the lazy dog. " * 40
    data = datasets.character_sequences(text, context=16)
    task = Task(
        "lm", data.train, data.test, lambda: models.CharTransformer(len(datasets.CHARACTERS), 16, width=16, heads=2),
        validation=data.validation, metric=Metric("loss", lambda o, t: F.cross_entropy(o.flatten(0, 1), t.flatten()),
                                                  higher_is_better=False), epochs=4, batch_size=16,
    )  # fmt: skip
    assert data.train[0].dtype == torch.long
    (result,) = train_unit(task, [RunConfig("lm", "adamw", 1e-2, 0.0, 0, 4, batch_size=16)])
    losses = [point[2] for point in result.curves]
    assert losses[-1] < losses[0] < math.log(len(datasets.CHARACTERS)) + 0.5


def test_a_regression_task_trains_on_its_own_loss():
    data = datasets.ridge(train=100, held_out=200, dimension=20, noise=0.1)
    task = Task("ridge", data.train, data.test, lambda: nn.Linear(20, 1, bias=False), validation=data.validation,
                loss=F.mse_loss, metric="loss", epochs=20, batch_size=20)  # fmt: skip
    (result,) = train_unit(task, [RunConfig("ridge", "adamw", 3e-2, 1e-3, 0, 20, batch_size=20)])
    assert result.curves[-1][2] < 0.2 * result.curves[0][2]  # validation MSE falls towards the noise floor
    assert result.test[0] == result.test[1]  # the metric is the loss


def test_the_trainer_learns():
    (result,) = train_unit(TINY, runs("adamw", [(1e-2, 1e-4)], epochs=3))
    chance = 1 / 4
    assert result.curves[-1][3] > chance + 0.2 and result.test[1] > chance + 0.2
    assert result.curves[-1][1] < result.curves[0][1]


@pytest.mark.parametrize("batchnorm", [True, False])
def test_resnet20_trains_grid_batched_on_generated_cifar_format_data(tmp_path, batchnorm):
    md5 = make_cifar_archive(tmp_path, images_per_batch=4)
    data = datasets.cifar10(tmp_path, md5=md5, validation=4)
    assert data.train[0].shape == (16, 3, 32, 32) and data.test[0].shape == (4, 3, 32, 32)
    task = Task(
        "cifar", data.train, data.test, lambda: models.ResNet20(batchnorm), validation=data.validation,
        epochs=1, batch_size=8, augment=datasets.random_crop_flip,
    )  # fmt: skip
    results = train_unit(task, runs("adamw", [(1e-3, 1e-4), (1e-2, 0.0)], epochs=1, task="cifar"))
    assert [r.status for r in results] == ["done", "done"]
    assert all(math.isfinite(v) for r in results for v in r.final)
    model = models.ResNet20(batchnorm)
    # He et al.'s 0.27M with BN; without, 688 conv biases replace the BN scales and shifts (2·688)
    expected = 269_722 if batchnorm else 269_722 - 2 * 688 + 688
    assert sum(p.numel() for p in model.parameters()) == expected
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == batchnorm


def test_a_checkpoint_of_another_unit_is_discarded_with_one_line_and_the_unit_starts_over(tmp_path, capsys):
    """Two in-flight checkpoints swapped by name: neither unit may resume from the other's state."""
    task = ordinary_task()
    first, second = runs("adamw", [(1e-2, 1e-2)], epochs=3), runs("adamw", [(3e-3, 0.0)], epochs=3)
    train_unit(task, first, dtype=torch.float64, checkpoint=tmp_path / "first.pt")  # leaves epoch 2's state
    (tmp_path / "first.pt").rename(tmp_path / "second.pt")
    (resumed,) = train_unit(task, second, dtype=torch.float64, checkpoint=tmp_path / "second.pt")
    (clean,) = train_unit(task, second, dtype=torch.float64)
    assert flat(resumed.curves) == flat(clean.curves)
    (said,) = capsys.readouterr().err.splitlines()
    assert "another unit" in said and "starts over" in said
