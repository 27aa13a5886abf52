"""Data sets as in-memory tensors: MNIST-1D (generated offline) and CIFAR-10 (the real archive)."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch
from platformdirs import user_cache_dir
from torch import Tensor

from decaylab.lab.errors import UsageError

Split = tuple[Tensor, Tensor, Tensor, Tensor]
"""``(train_x, train_y, test_x, test_y)``."""

MNIST1D_TRAIN, MNIST1D_TEST = 4_000, 6_000
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_data_dir() -> Path:
    return Path(user_cache_dir("decaylab"))


def mnist1d(cache_dir: Path | None = None) -> Split:
    """MNIST-1D (Greydanus 2020) from the ``mnist1d`` package, with its test split enlarged.

    The package's generator with its default arguments, but 10,000 samples split 4,000 train
    (as published) / 6,000 test (instead of 1,000, so accuracy differences of a point are
    not noise). Generating takes ~10 s; the arrays are cached as ``.npz`` (no pickle).
    """
    path = (cache_dir or default_data_dir()) / f"mnist1d-{MNIST1D_TRAIN}-{MNIST1D_TEST}.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = MNIST1D_TRAIN + MNIST1D_TEST
        args.train_split = MNIST1D_TRAIN / args.num_samples
        data = make_dataset(args)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, x=data["x"], y=data["y"], x_test=data["x_test"], y_test=data["y_test"])
        partial.replace(path)  # atomic: concurrent workers never read half a file
    with np.load(path) as arrays:
        return (
            torch.tensor(arrays["x"], dtype=torch.float32),
            torch.tensor(arrays["y"], dtype=torch.long),
            torch.tensor(arrays["x_test"], dtype=torch.float32),
            torch.tensor(arrays["y_test"], dtype=torch.long),
        )


def cifar10(data_dir: Path | None = None, md5: str = CIFAR10_MD5, url: str | None = None) -> Split:
    """CIFAR-10 from the standard python-version archive, normalized per channel.

    Reads ``cifar-10-python.tar.gz`` in ``data_dir``, downloading it first where a network
    exists. The archive's MD5 is verified *before* anything in it is unpickled (pickle runs
    code), and members are read in memory, never extracted, so no path in the archive can
    write outside the data directory.
    """
    archive = (data_dir or default_data_dir()) / "cifar-10-python.tar.gz"
    if not archive.exists():
        _download(url or CIFAR10_URL, archive)
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    if digest != md5:
        raise UsageError(f"{archive} is corrupt (MD5 {digest}, expected {md5}): delete it and run again")
    batches: dict[str, dict[bytes, object]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.isfile() and (name.startswith("data_batch_") or name == "test_batch"):
                    file = tar.extractfile(member)
                    assert file is not None
                    batches[name] = pickle.load(io.BytesIO(file.read()), encoding="bytes")
    except (tarfile.TarError, pickle.UnpicklingError, EOFError) as error:
        raise UsageError(f"{archive} is not a CIFAR-10 python archive ({error})") from error
    train_names = sorted(n for n in batches if n.startswith("data_batch_"))
    if not train_names or "test_batch" not in batches:
        raise UsageError(f"{archive} lacks data_batch_* or test_batch: not a CIFAR-10 python archive")
    train_x, train_y = _images_and_labels([batches[n] for n in train_names])
    test_x, test_y = _images_and_labels([batches["test_batch"]])
    return train_x, train_y, test_x, test_y


def _images_and_labels(batches: list[dict[bytes, object]]) -> tuple[Tensor, Tensor]:
    data = np.concatenate([np.asarray(b[b"data"], dtype=np.uint8) for b in batches])
    labels = np.concatenate([np.asarray(b[b"labels"], dtype=np.int64) for b in batches])
    images = torch.tensor(data).view(-1, 3, 32, 32).float() / 255
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    return (images - mean) / std, torch.tensor(labels)


def _download(url: str, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, partial.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UsageError(
            f"CIFAR-10 archive missing at {archive} and its download failed ({error}); "
            f"put cifar-10-python.tar.gz there or pass --data-dir"
        ) from error
    partial.replace(archive)


def random_crop_flip(images: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """Random crops of zero-padded images plus horizontal flips, as batched tensor ops."""
    batch, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    # random numbers from the (CPU) generator, so every device sees the same crops
    dy = torch.randint(0, 2 * padding + 1, (batch, 1), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * padding + 1, (batch, 1), generator=generator).to(images.device)
    flip = (torch.rand(batch, generator=generator) < 0.5).to(images.device)
    rows = (dy + torch.arange(height, device=images.device)).view(batch, 1, height, 1)
    cols = (dx + torch.arange(width, device=images.device)).view(batch, 1, 1, width)
    crops = padded.gather(2, rows.expand(batch, images.shape[1], height, padded.shape[3]))
    crops = crops.gather(3, cols.expand(batch, images.shape[1], height, width))
    return torch.where(flip.view(batch, 1, 1, 1), crops.flip(3), crops)
