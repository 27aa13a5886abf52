"""A task's splits as tensors in memory, from whatever a user holds them in.

Grid-batched training shares every minibatch among the members of a stacked model, so a split is held
as an ``(inputs, targets)`` pair of tensors and batched by index; a ``DataLoader`` (which batches
and shuffles on its own) or an ``IterableDataset`` (which cannot be indexed) has no place in that. A
``TensorDataset``, a map-style ``Dataset`` of ``(input, target)`` pairs, numpy arrays and a list or
tuple pair are turned into tensors once, when the task is made.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from tqdm import tqdm

from decaylab.lab.errors import UsageError

Pair = tuple[Tensor, Tensor]
MEMORY_SHARE = 0.5
"""A split may take at most this share of the machine's memory."""
SHOWN_FROM = 10_000
"""A map-style dataset this long is read with a progress bar."""
INSTEAD = (
    "give (inputs, targets) tensors, numpy arrays, a TensorDataset or a map-style Dataset of (input, target) pairs"
)


def as_pair(task: str, split: str, data: Any) -> Pair:
    """``data`` as an ``(inputs, targets)`` pair of tensors, or one line saying what to give instead."""
    where = f"task {task}: {split}"
    if isinstance(data, DataLoader):
        raise UsageError(
            f"{where} is a DataLoader; give its dataset (loader.dataset): decaylab batches the data itself, "
            "so that every member of a stacked model sees the same minibatches"
        )
    if isinstance(data, IterableDataset):
        raise UsageError(f"{where} is an IterableDataset, which cannot be held in memory and indexed; {INSTEAD}")
    if isinstance(data, TensorDataset):
        if len(data.tensors) != 2:
            raise UsageError(f"{where} is a TensorDataset of {len(data.tensors)} tensors; it needs 2 (inputs, targets)")
        return data.tensors[0], data.tensors[1]
    if isinstance(data, (tuple, list)) and len(data) == 2:
        inputs, targets = (as_tensor(where, part) for part in data)
        return inputs, targets
    if isinstance(data, Dataset) and hasattr(data, "__len__"):
        return read_dataset(where, data)
    raise UsageError(f"{where} is a {type(data).__name__}; {INSTEAD}")


def as_tensor(where: str, part: Any) -> Tensor:
    """A tensor, numpy array or (nested) list as a tensor."""
    if isinstance(part, Tensor):
        return part
    try:
        return torch.from_numpy(part) if isinstance(part, np.ndarray) else torch.as_tensor(part)
    except (TypeError, ValueError, RuntimeError) as error:
        raise UsageError(f"{where} holds a {type(part).__name__} that is no array of numbers ({error})") from None


def read_dataset(where: str, dataset: Any) -> Pair:
    """Every ``(input, target)`` item of a map-style dataset, stacked; refused when it would not fit in memory."""
    length = len(dataset)
    if length == 0:
        raise UsageError(f"{where} is an empty dataset")
    first = dataset[0]
    if not (isinstance(first, (tuple, list)) and len(first) == 2):
        raise UsageError(f"{where}: a dataset's items must be (input, target) pairs, got a {type(first).__name__}")
    item_bytes = sum(as_tensor(where, part).element_size() * as_tensor(where, part).numel() for part in first)
    if item_bytes * length > MEMORY_SHARE * memory():
        raise UsageError(
            f"{where} would take {item_bytes * length / 2**30:.1f} GiB in memory, more than half of this machine's; "
            "decaylab holds a split in memory to share every minibatch among the members: use a subset"
        )
    items = tqdm(range(length), desc=f"reading {where}", disable=length < SHOWN_FROM, leave=False)
    inputs, targets = zip(*(dataset[index] for index in items), strict=True)
    return torch.stack([as_tensor(where, x) for x in inputs]), torch.stack([as_tensor(where, y) for y in targets])


def memory() -> int:
    """The machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
