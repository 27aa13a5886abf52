"""Data sets as in-memory tensors: MNIST-1D (generated offline), CIFAR-10 (the real archive), a
ridge regression problem (generated) and a character corpus that ships with Python."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import unicodedata
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from platformdirs import user_cache_dir
from torch import Tensor

from decaylab.lab.errors import UsageError, one_line
from decaylab.lab.task.data import Pair

"""``(inputs, targets)``."""


@dataclass(frozen=True)
class Splits:
    train: Pair
    validation: Pair
    test: Pair


@dataclass(frozen=True)
class Examples:
    """Training examples beyond a task's own, for training sets larger than its default: a name (part of
    the run keys of the runs that train on them) and how to load them."""

    name: str
    load: Callable[[Path | None], Pair]


MNIST1D_TRAIN, MNIST1D_VALIDATION, MNIST1D_TEST = 4_000, 4_000, 6_000
CIFAR10_VALIDATION = 5_000
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_data_dir() -> Path:
    return Path(user_cache_dir("decaylab"))


def mnist1d(cache_dir: Path | None = None) -> Splits:
    """MNIST-1D (Greydanus 2020) from the ``mnist1d`` package, with larger held-out splits.

    The package's generator with its default arguments, but 14,000 samples: 4,000 train (as
    published), 4,000 validation (where the best cell is chosen) and 6,000 test (instead of
    1,000, so accuracy differences of a point are not noise). Generating takes ~15 s; the
    arrays are cached as ``.npz`` (no pickle).
    """
    total = MNIST1D_TRAIN + MNIST1D_VALIDATION + MNIST1D_TEST
    path = (cache_dir or default_data_dir()) / f"mnist1d-{MNIST1D_TRAIN}-{MNIST1D_VALIDATION}-{MNIST1D_TEST}.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples = total
        args.train_split = MNIST1D_TRAIN / total
        data = make_dataset(args)
        _cache_arrays(path, x=data["x"], y=data["y"], x_test=data["x_test"], y_test=data["y_test"])
    arrays = _cached_arrays(path, "x", "y", "x_test", "y_test")
    held_out_x = torch.tensor(arrays["x_test"], dtype=torch.float32)
    held_out_y = torch.tensor(arrays["y_test"], dtype=torch.long)
    return Splits(
        (torch.tensor(arrays["x"], dtype=torch.float32), torch.tensor(arrays["y"], dtype=torch.long)),
        (held_out_x[:MNIST1D_VALIDATION], held_out_y[:MNIST1D_VALIDATION]),
        (held_out_x[MNIST1D_VALIDATION:], held_out_y[MNIST1D_VALIDATION:]),
    )


MNIST1D_EXTRA, MNIST1D_EXTRA_SEED = 28_000, 43
"""More MNIST-1D training examples for training sets larger than the published 4,000: the package's
generator with its default arguments but another seed (the published data use 42)."""
MNIST1D_EXTRA_NAME = f"mnist1d-extra-{MNIST1D_EXTRA}-seed{MNIST1D_EXTRA_SEED}"


def mnist1d_extra(cache_dir: Path | None = None) -> Pair:
    """:data:`MNIST1D_EXTRA` examples more of MNIST-1D, generated like :func:`mnist1d`'s but with seed
    :data:`MNIST1D_EXTRA_SEED`, so none of them is one of the published train, validation or test examples.

    The generator standardizes each set it makes by its own mean and standard deviation, so the extra
    examples are on the published data's scale: their per-position means and standard deviations agree with
    the published training set's within its sampling error (tested). Cached as ``.npz`` like the published
    data (generating takes ~4 s).
    """
    path = (cache_dir or default_data_dir()) / f"{MNIST1D_EXTRA_NAME}.npz"
    if not path.exists():
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.num_samples, args.train_split, args.seed = MNIST1D_EXTRA, 1.0, MNIST1D_EXTRA_SEED
        data = make_dataset(args)
        _cache_arrays(path, x=data["x"], y=data["y"])
    arrays = _cached_arrays(path, "x", "y")
    return torch.tensor(arrays["x"], dtype=torch.float32), torch.tensor(arrays["y"], dtype=torch.long)


MNIST1D_MORE = Examples(MNIST1D_EXTRA_NAME, mnist1d_extra)


def _cached_arrays(path: Path, *names: str) -> dict[str, np.ndarray]:
    """The arrays ``names`` of a cached ``.npz`` (numbers only, no pickle); a truncated or foreign file is one
    line that says to delete it (it is generated again)."""
    try:
        with np.load(path) as arrays:
            return {
                name: np.asarray(arrays[name], dtype=np.float64 if name.startswith("x") else np.int64) for name in names
            }
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise UsageError(f"{path} is damaged ({one_line(error)}): delete it and it is generated again") from error


def _cache_arrays(path: Path, **arrays: Any) -> None:
    """Write ``arrays`` to ``path`` as ``.npz``, atomically: concurrent workers never read half a file."""
    partial = path.with_suffix(f".{os.getpid()}.partial.npz")  # one per process
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(partial, **arrays)
    except OSError as error:
        message = f"cannot cache MNIST-1D in {path.parent} ({error.strerror}); pass another --data-dir"
        raise UsageError(message) from None
    partial.replace(path)


def cifar10(
    data_dir: Path | None = None, md5: str = CIFAR10_MD5, url: str | None = None, validation: int = CIFAR10_VALIDATION
) -> Splits:
    """CIFAR-10 from the standard python-version archive, normalized per channel.

    The last ``validation`` training images are held out for choosing the best cell; the test
    batch is the test split.

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
    kept = len(train_x) - validation
    return Splits(
        (train_x[:kept], train_y[:kept]), (train_x[kept:], train_y[kept:]), _images_and_labels([batches["test_batch"]])
    )


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


def ridge(
    seed: int = 0,
    train: int = 200,
    held_out: int = 1_000,
    dimension: int = 1_000,
    noise: float = 0.5,
    spectrum: float = 1.0,
) -> Splits:
    """Least squares with more features than examples (after Schaipp 2024): ``y = x·w* + σ·ξ``.

    Feature ``k`` has variance ``k^−spectrum`` (a power law, as in real data: a few directions
    carry most of the variance), ``w* ~ N(0, I)`` rescaled so that the signal ``x·w*`` has unit
    variance, and ``ξ ~ N(0, 1)``; targets are ``(n, 1)``. With ``d > n`` many weights fit the
    training set exactly and weight decay chooses among them: the well-determined directions
    are kept, the rest shrink. (With isotropic features, the held-out loss barely depends on
    ``α`` or ``λ``: 1.14 to 1.19 over the default grid, against 1.25 for predicting 0.)
    """
    generator = torch.Generator().manual_seed(seed)
    scale = torch.arange(1, dimension + 1, dtype=torch.float32) ** (-spectrum / 2)
    true_weight = torch.randn(dimension, 1, generator=generator)
    true_weight /= (scale[:, None] * true_weight).norm()

    def sample(n: int) -> Pair:
        x = torch.randn(n, dimension, generator=generator) * scale
        return x, x @ true_weight + noise * torch.randn(n, 1, generator=generator)

    return Splits(sample(train), sample(held_out), sample(held_out))


UNKNOWN = "\x00"
CHARACTERS = UNKNOWN + "\n" + "".join(chr(code) for code in range(32, 127))
"""The corpus' vocabulary: fixed, not read off the text, so token ids mean the same everywhere."""
_TO_ASCII = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "--",
        "\u2026": "...",
        "\t": "    ",
        "\r": "",
    }
)


def python_help_text() -> str:
    """The help texts that ship with Python (``pydoc_data.topics``: the Language Reference's prose).

    About 465,000 characters of English on Python 3.11, in sorted topic order, typographic
    punctuation mapped to ASCII and anything outside :data:`CHARACTERS` to one unknown
    symbol. The text changes with the CPython release, so the task keys its runs by its
    SHA-256.
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[name] for name in sorted(topics))
    text = unicodedata.normalize("NFKC", text).translate(_TO_ASCII)
    return "".join(c if c in CHARACTERS else UNKNOWN for c in text)


def character_sequences(text: str, context: int, fractions: tuple[float, float] = (0.8, 0.1)) -> Splits:
    """Next-character prediction: non-overlapping windows of ``context + 1`` characters.

    Inputs are a window's first ``context`` token ids, targets its last ``context`` (each
    position predicts the next). The text is split by position: the first 80% trains, the
    next 10% validates, the last 10% tests.
    """
    index = {c: i for i, c in enumerate(CHARACTERS)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    windows = ids[: len(ids) // (context + 1) * (context + 1)].view(-1, context + 1)
    first = int(fractions[0] * len(windows))
    second = first + int(fractions[1] * len(windows))

    def pair(rows: Tensor) -> Pair:
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()

    return Splits(pair(windows[:first]), pair(windows[first:second]), pair(windows[second:]))
