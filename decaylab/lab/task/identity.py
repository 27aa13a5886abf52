"""A task's identity in the run keys: what a stored result was trained on.

A built-in task is its name and version (:func:`built_in_identity`); a user's task is a hash of
its code and data (:func:`code_identity`, with the walk of :mod:`~decaylab.lab.task.fingerprint`);
a task derived from another (a subset of its training set, say) adds what was changed
(:func:`variant_identity`). Editing anything a key covers trains anew; nothing else does.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from dataclasses import fields
from pathlib import Path

import torch

from decaylab.lab.task.contract import Task
from decaylab.lab.task.fingerprint import code_fingerprint, is_user_file
from decaylab.lab.task.objectives import Metric


def built_in_identity(name: str, version: int, task_version: str) -> str:
    """``name@version``, and the task's own version (charlm: its text's hash) where it has one."""
    return f"{name}@{version}" + (f" {task_version}" if task_version else "")


def file_identity(task: Task, path: Path) -> str:
    """A task file's identity until :func:`code_identity` has read its code (in ``prepare_task``)."""
    return f"{task.name}@file:{path}"


def variant_identity(identity: str, variant: str) -> str:
    """The identity of a task derived from one with ``identity``: e.g. ``train[:1000]`` for a subset."""
    return f"{identity} {variant}"


def code_identity(task: Task, spec: str | None) -> str:
    """The run keys' record of a custom task: a hash of its code and data.

    Covered: the task file and the modules of its directory it imports (:func:`local_imports`); the code its
    functions reach wherever it lives (:func:`~decaylab.lab.task.fingerprint.code_fingerprint`: a
    model class in another folder, a closure's values, code typed into a notebook); its data
    tensors, its settings and its ``version``. Editing any of them starts fresh runs. Call
    after the model was built once, so that modules imported lazily are seen too.
    """
    digest = hashlib.sha256()
    if spec is not None and ":" in spec:
        task_file = Path(spec.rsplit(":", 1)[0]).resolve()
        for path in [task_file, *sorted(local_imports(task_file) - {task_file})]:
            digest.update(str(path.relative_to(task_file.parent)).encode() + path.read_bytes())
    metric: object = task.metric
    if isinstance(task.metric, Metric):  # its name and direction too: the store keeps them with each run
        metric = (task.metric.function, task.metric.name, task.metric.higher_is_better)
    if not task.selection_metric.batchwise:  # computed on the whole split: another number than 0.2's batch mean
        metric = (metric, "whole split")
    digest.update(code_fingerprint(task.make_model, task.loss, metric, task.schedule, task.augment).encode())
    for split in (task.train, task.validation, task.test):
        for tensor in split or ():
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    settings = {f.name: getattr(task, f.name) for f in fields(task) if f.name not in _CODE_AND_DATA}
    for name in _ADDED_SINCE_STORES_EXIST:  # at its default, as the runs stored before it existed
        if settings[name] == next(f.default for f in fields(task) if f.name == name):
            del settings[name]
    digest.update(repr(sorted(settings.items())).encode())
    return f"{task.name}@{digest.hexdigest()[:16]}"


_ADDED_SINCE_STORES_EXIST = ("adam_for",)
"""Settings the key covers only when set: a run stored before they existed keeps its key."""
_CODE_AND_DATA = {"train", "validation", "test", "make_model", "loss", "metric", "schedule", "augment", "identity"}


def local_imports(task_file: Path) -> set[Path]:
    """Files of the modules under ``task_file``'s directory that its import statements name (anywhere in it:
    a lazy import in ``make_model`` too), and theirs in turn. Read from the files, so the same in every
    process: another module of that folder that the process happened to import (a test beside the task, a
    notebook's helper) does not count."""
    directory, found, todo = task_file.parent, set[Path](), [task_file]
    while todo:
        for name in _imported_names(todo.pop()):
            file = getattr(sys.modules.get(name), "__file__", None)
            if not file:
                continue
            path = Path(file).resolve()
            local = path.suffix == ".py" and path.is_relative_to(directory) and is_user_file(path)
            if local and path not in found:
                found.add(path)
                todo.append(path)
    return found


def _imported_names(file: Path) -> set[str]:
    """Every module name an import statement of ``file`` may load: ``a``, ``a.b`` and ``a.b.c`` for
    ``import a.b.c`` or ``from a.b import c``."""
    names = set()
    for node in ast.walk(ast.parse(file.read_bytes(), filename=str(file))):
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            dotted = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in dotted:
            parts = name.split(".")
            names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names
