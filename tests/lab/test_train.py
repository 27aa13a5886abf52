"""The trainer: stacked members are independent runs; divergence is contained; every model trains."""

import math

import pytest
import torch

from decaylab.lab import datasets
from decaylab.lab.models import MLP, CNN1d, ResNet20
from decaylab.lab.tasks import Task
from decaylab.lab.train import RunConfig, train_unit
from decaylab.optim import param_groups

from .cifar_archive import make_cifar_archive
from .tiny_task import make_task

TINY = make_task()


def runs(method: str, grid: list[tuple[float, float]], epochs: int = 2, task: str = "tiny") -> list[RunConfig]:
    return [RunConfig(task, method, lr, decay, seed=3, epochs=epochs, batch_size=50) for lr, decay in grid]


@pytest.mark.parametrize("method", ["adamw", "adaml2", "adamp"])
def test_a_member_of_a_stacked_model_equals_the_same_run_trained_alone(method):
    grid = runs(method, [(1e-2, 1e-2), (3e-3, 0.0), (3e-2, 1e-3)])
    together = train_unit(TINY, grid, dtype=torch.float64)
    for run, stacked in zip(grid, together):
        (alone,) = train_unit(TINY, [run], dtype=torch.float64)
        assert stacked.status == alone.status == "done"
        for a, b in zip(stacked.curves, alone.curves):
            assert a[0] == b[0]
            assert a[1:] == pytest.approx(b[1:], rel=1e-9, abs=1e-12)


def test_the_1d_cnn_with_batchnorm_is_also_member_independent():
    x, y = torch.randn(200, 40), torch.randint(0, 10, (200,))
    task = Task("cnn", x[:100], y[:100], x[100:], y[100:], lambda m: CNN1d(m, "batch"), epochs=1, batch_size=25)
    grid = runs("proxadam", [(1e-2, 1e-2), (1e-3, 0.0)], epochs=1, task="cnn")
    together = train_unit(task, grid, dtype=torch.float64)
    alone = train_unit(task, grid[1:], dtype=torch.float64)
    assert together[1].curves[0][1:] == pytest.approx(alone[0].curves[0][1:], rel=1e-9)


def test_a_diverging_member_is_stopped_and_stored_as_diverged_while_the_others_go_on():
    grid = runs("adamw", [(1e-2, 0.0), (1e-2, 1e30), (3e-3, 1e-3)], epochs=3)
    together = train_unit(TINY, grid, dtype=torch.float64)  # (1 − η_t·λ) ≈ −1e30 per step: overflows in ~11
    assert [r.status for r in together] == ["done", "diverged", "done"]
    assert len(together[1].curves) < 3
    for i in (0, 2):
        (alone,) = train_unit(TINY, [grid[i]], dtype=torch.float64)
        assert together[i].curves[-1][1:] == pytest.approx(alone.curves[-1][1:], rel=1e-9)
        assert all(math.isfinite(v) for v in together[i].final)


@pytest.mark.parametrize("model", [MLP(3, "batch"), CNN1d(3, "batch"), ResNet20(3, "batch")])
def test_stacked_models_decay_only_their_matrices_and_kernels(model):
    decayed, kept = param_groups(model, 0.1, member_dims=1)
    assert all(p.ndim >= 3 for p in decayed["params"])  # (M, in, out) matrices, (M, out, in, k…) kernels
    assert all(p.ndim == 2 for p in kept["params"])  # (M, C) biases and BatchNorm scales and shifts
    assert len(kept["params"]) > 0


def test_the_trainer_learns():
    (result,) = train_unit(TINY, runs("adamw", [(1e-2, 1e-4)], epochs=3))
    chance = 1 / 4
    assert result.curves[-1][3] > chance + 0.2
    assert result.curves[-1][1] < result.curves[0][1]


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_resnet20_trains_grid_batched_on_generated_cifar_format_data(tmp_path, norm):
    md5 = make_cifar_archive(tmp_path, images_per_batch=4)
    train_x, train_y, test_x, test_y = datasets.cifar10(tmp_path, md5=md5)
    assert train_x.shape == (20, 3, 32, 32) and test_x.shape == (4, 3, 32, 32)
    task = Task(
        "cifar", train_x, train_y, test_x, test_y, lambda m: ResNet20(m, norm),
        epochs=1, batch_size=10, augment=datasets.random_crop_flip,
    )  # fmt: skip
    results = train_unit(task, runs("adamw", [(1e-3, 1e-4), (1e-2, 0.0)], epochs=1, task="cifar"))
    assert [r.status for r in results] == ["done", "done"]
    assert all(math.isfinite(v) for r in results for v in r.final)
    model = ResNet20(2, norm)
    # He et al.'s 0.27M with BN; without, 688 conv biases replace the BN scales and shifts (2·688)
    expected = 269_722 if norm == "batch" else 269_722 - 2 * 688 + 688
    assert sum(p.numel() for p in model.parameters()) == 2 * expected
    has_bn = any("norm" in name for name, _ in model.named_parameters())
    assert has_bn == (norm == "batch")
