"""Loading a task: a built-in by name, or ``path/to/file.py:make_task`` imported as a script would be (then
tried and given its identity for the run keys by :func:`~decaylab.lab.training.trial.prepare_task`)."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from decaylab.lab.errors import UsageError, one_line
from decaylab.lab.task.builtin.catalogue import BUILT_IN
from decaylab.lab.task.contract import Task
from decaylab.lab.task.identity import built_in_identity, file_identity


@functools.cache
def load_task(spec: str, data_dir: Path | None = None) -> Task:
    """The task named ``spec``, or ``path/to/file.py:function`` for a user's own (cached per process)."""
    if spec in BUILT_IN:
        built_in = BUILT_IN[spec]
        task = built_in.make(data_dir)
        return replace(task, identity=built_in_identity(spec, built_in.version, task.version))
    if ":" not in spec or not spec.split(":", 1)[0].endswith(".py"):
        raise UsageError(f"unknown task {spec!r}; choose from {', '.join(BUILT_IN)} or give path/to/file.py:make_task")
    return _load_from_file(*spec.rsplit(":", 1))


TASK_FILE_PREFIX = "decaylab_task_"
"""The module name a task file is imported under: ``decaylab_task_FILE``."""


def task_file_modules() -> list[ModuleType]:
    """The task files this process imported. Their classes and functions exist nowhere a worker can import them
    from, so a task object that uses them is sent by value (:func:`~decaylab.lab.execution.base.portable`)."""
    return [module for name, module in list(sys.modules.items()) if name.startswith(TASK_FILE_PREFIX)]


def absolute_spec(spec: str) -> str:
    """``spec`` with a custom task's file made absolute, for workers started elsewhere."""
    if spec in BUILT_IN or ":" not in spec:
        return spec
    file, function = spec.rsplit(":", 1)
    return f"{Path(file).resolve()}:{function}"


def short_name(spec: str) -> str:
    """A task's name for directories and titles: its own, or ``FILE-FUNCTION`` for ``path/FILE.py:FUNCTION``."""
    if ":" not in spec:
        return spec
    file, function = spec.rsplit(":", 1)
    return f"{Path(file).stem}-{function}"


def folder_name(name: str) -> str:
    """``name`` as one folder's name under ``runs/``: letters, digits, ``.``, ``_`` and ``-`` kept, any other run of
    characters (a path separator, a newline, an escape code) one ``-``, and never ``.`` or ``..``: a task named
    ``x/../../elsewhere`` writes inside ``runs/``, not beside it."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return safe or "task"


def _load_from_file(file: str, function: str) -> Task:
    """Import ``file`` as a script would be (its directory first on ``sys.path``) and call ``function``."""
    path = Path(file).resolve()
    if not path.is_file():
        raise UsageError(f"task file {file} not found")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module_spec = importlib.util.spec_from_file_location(f"{TASK_FILE_PREFIX}{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # as an import would: dataclasses look their module up there
    try:
        module_spec.loader.exec_module(module)
    except SystemExit as exit_:
        del sys.modules[module_spec.name]
        raise UsageError(
            f"the task file {file} exited at import (sys.exit({exit_.code!r})); it must define {function}() and return"
        ) from None
    except Exception as error:
        del sys.modules[module_spec.name]
        raise UsageError(f"task file {file} failed to import: {one_line(error)}") from error
    make_task = getattr(module, function, None)
    if not callable(make_task):
        raise UsageError(f"task file {file} has no function {function!r}")
    try:
        task = make_task()
    except UsageError:
        raise
    except SystemExit as exit_:
        raise UsageError(f"{file}:{function}() exited (sys.exit({exit_.code!r})) instead of returning a Task") from None
    except Exception as error:
        raise UsageError(f"{file}:{function}() raised {one_line(error)}") from error
    if not isinstance(task, Task):
        raise UsageError(f"{file}:{function} must return decaylab.Task, got {type(task).__name__}")
    return replace(task, identity=file_identity(task, path))
