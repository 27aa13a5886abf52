"""Data: the CIFAR-10 loader verifies before it unpickles, never extracts, and fails clearly."""

import hashlib
import shutil

import numpy as np
import pytest
import torch

from decaylab.lab.errors import UsageError
from decaylab.lab.task.builtin import datasets

from .cifar_archive import make_cifar_archive


def test_the_cifar_loader_reads_the_python_archive_format(tmp_path):
    md5 = make_cifar_archive(tmp_path, images_per_batch=3)
    data = datasets.cifar10(tmp_path, md5=md5, validation=5)
    (train_x, train_y), (val_x, _), (test_x, _) = data.train, data.validation, data.test
    assert train_x.shape == (10, 3, 32, 32) and train_y.shape == (10,) and val_x.shape == (5, 3, 32, 32)
    assert test_x.shape == (3, 3, 32, 32)
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.long
    assert abs(float(train_x.mean())) < 1.0  # normalized per channel


def test_a_corrupt_archive_is_refused_before_anything_is_unpickled(tmp_path):
    make_cifar_archive(tmp_path)
    with pytest.raises(UsageError, match="corrupt"):
        datasets.cifar10(tmp_path)  # the real CIFAR-10 checksum does not match


def test_a_missing_archive_without_network_says_where_to_put_it(tmp_path):
    with pytest.raises(UsageError, match=r"cifar-10-python\.tar\.gz"):
        datasets.cifar10(tmp_path / "nowhere", url="http://127.0.0.1:9/cifar-10-python.tar.gz")
    assert not (tmp_path / "nowhere" / "cifar-10-python.tar.gz").exists()


def test_archive_members_outside_the_directory_are_never_written(tmp_path):
    data_dir = tmp_path / "data"
    md5 = make_cifar_archive(data_dir, extra_members={"../escaped.txt": b"x", "/tmp/abs.txt": b"y"})
    datasets.cifar10(data_dir, md5=md5, validation=1)
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in data_dir.iterdir()) == ["cifar-10-python.tar.gz"]


def test_a_non_archive_with_the_right_checksum_is_refused(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(UsageError, match="not a CIFAR-10"):
        datasets.cifar10(tmp_path, md5=hashlib.md5(b"not a tar file").hexdigest())


def test_random_crop_flip_takes_windows_of_the_padded_images():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = datasets.random_crop_flip(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2,) * 4)
    for b in range(2):
        windows = [padded[b, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[b], w) or torch.equal(out[b], w.flip(2)) for w in windows)


def test_the_character_corpus_ships_with_python_and_splits_by_position():
    text = datasets.python_help_text()
    assert len(text) > 300_000 and set(text) <= set(datasets.CHARACTERS)
    data = datasets.character_sequences(text, context=64)
    (x, y), (val_x, _), (test_x, _) = data.train, data.validation, data.test
    assert x.dtype == torch.long and x.shape[1] == y.shape[1] == 64
    assert torch.equal(x[:, 1:], y[:, :-1])  # each position predicts the next character
    assert len(x) == 8 * len(val_x) == 8 * len(test_x) or abs(len(x) - 8 * len(val_x)) <= 8


def test_the_ridge_problem_is_generated_from_its_seed():
    a, b = datasets.ridge(seed=1), datasets.ridge(seed=1)
    assert torch.equal(a.train[0], b.train[0]) and a.train[0].shape == (200, 1000) and a.train[1].shape == (200, 1)
    assert not torch.equal(datasets.ridge(seed=2).train[0], a.train[0])


def test_more_mnist1d_examples_are_new_and_on_the_published_scale():
    published, (x, y) = datasets.mnist1d(), datasets.mnist1d_extra()
    assert x.shape == (datasets.MNIST1D_EXTRA, 40) and torch.bincount(y).tolist() == [datasets.MNIST1D_EXTRA // 10] * 10
    splits = (published.train, published.validation, published.test)
    seen = {row.numpy().tobytes() for split in splits for row in split[0]}
    assert not any(row.numpy().tobytes() in seen for row in x)
    train = published.train[0]
    error = 4 / len(train) ** 0.5  # four standard errors of a mean over the published training set
    assert (train.mean(0) - x.mean(0)).abs().max() < error
    assert ((train.std(0) / x.std(0)) - 1).abs().max() < 2 * error


@pytest.fixture(scope="module")
def mnist1d_cache(tmp_path_factory):
    """A folder holding the generated MNIST-1D extra examples' cache (generated once: 20 s on this machine)."""
    folder = tmp_path_factory.mktemp("mnist1d")
    return folder, datasets.mnist1d_extra(folder)


@pytest.mark.parametrize(
    ("damage", "then_deleted"),
    [(lambda path: path.write_bytes(path.read_bytes()[:1000]), True), (lambda path: path.write_text("x"), False)],
)
def test_a_damaged_mnist1d_cache_is_one_line_that_says_to_delete_it(tmp_path, mnist1d_cache, damage, then_deleted):
    folder, good = mnist1d_cache
    (cached,) = folder.glob("*.npz")
    shutil.copy(cached, tmp_path / cached.name)
    assert torch.equal(datasets.mnist1d_extra(tmp_path)[0], good[0])  # read from the cache
    damage(tmp_path / cached.name)
    with pytest.raises(UsageError, match=r"damaged.*delete it"):
        datasets.mnist1d_extra(tmp_path)
    if then_deleted:  # deleted as it says, it is generated again, the same (once: it costs the generation)
        (tmp_path / cached.name).unlink()
        assert torch.equal(datasets.mnist1d_extra(tmp_path)[0], good[0])


def test_an_object_array_in_the_mnist1d_cache_is_refused_and_never_unpickled(tmp_path):
    path = tmp_path / f"{datasets.MNIST1D_EXTRA_NAME}.npz"
    np.savez(path, x=np.array([object()], dtype=object), y=np.zeros(1))
    with pytest.raises(UsageError, match="damaged"):
        datasets.mnist1d_extra(tmp_path)
