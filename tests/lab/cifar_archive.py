"""A small archive in CIFAR-10's python format (same members, same pickled dicts), for tests."""

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


def make_cifar_archive(
    directory: Path, images_per_batch: int = 8, extra_members: dict[str, bytes] | None = None
) -> str:
    """Write ``directory/cifar-10-python.tar.gz``; return its MD5."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / "cifar-10-python.tar.gz"
    members = {
        f"cifar-10-batches-py/{name}": pickle.dumps(
            {
                b"data": rng.integers(0, 256, (images_per_batch, 3072), dtype=np.uint8),
                b"labels": rng.integers(0, 10, images_per_batch).tolist(),
            }
        )
        for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    }
    members.update(extra_members or {})
    with tarfile.open(archive, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return hashlib.md5(archive.read_bytes()).hexdigest()
