"""A fingerprint of the code behind a task's functions: what its run keys see beyond the task file.

From each root (``make_model``, the loss, …) the walk reads a function's source (its bytecode
where no source is kept: a REPL, stdin), its defaults, its closure and every global it names,
and follows them into the user's own functions, classes, instances and modules: a model class
in another folder of the project, a constant it reads, a width captured by a closure. Code of
installed packages, the standard library and decaylab counts by name (its version belongs to
the environment, not to the task); their objects count by type, by value where the value is
plain (a number, a path, a generator's state, a dataclass's fields). Nothing that varies between
processes (addresses, ids, set order, the environment) enters the digest, so the same code
gives the same fingerprint in every process.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import enum
import functools
import hashlib
import inspect
import numbers
import operator
import os
import random
import re
import sys
import sysconfig
import types
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from torch import nn

_INSTALLED = tuple(Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib"))
_DECAYLAB = Path(sys.modules["decaylab"].__file__ or "").resolve().parent

KEYED_AS = {
    "decaylab.optim.rules": "decaylab.optim.core",
    "decaylab.optim.reference": "decaylab.optim.core",
    "decaylab.optim.fused": "decaylab.optim.core",
    "decaylab.optim.dispatch": "decaylab.optim.core",
    "decaylab.lab.runs": "decaylab.lab.train",
    "decaylab.lab.task.contract": "decaylab.lab.tasks",
    "decaylab.lab.task.builtin.catalogue": "decaylab.lab.tasks",
    "decaylab.lab.task.loading": "decaylab.lab.tasks",
    "decaylab.lab.task.identity": "decaylab.lab.tasks",
    "decaylab.lab.task.objectives": "decaylab.lab.objectives",
    "decaylab.lab.task.schedules": "decaylab.lab.schedules",
    "decaylab.lab.task.fingerprint": "decaylab.lab.fingerprint",
    "decaylab.lab.task.builtin.datasets": "decaylab.lab.datasets",
    "decaylab.lab.task.builtin.models": "decaylab.lab.models",
    "decaylab.lab.training.stacking": "decaylab.lab.stacking",
    "decaylab.lab.training.loop": "decaylab.lab.train",
    "decaylab.lab.training.probes": "decaylab.lab.probes",
    "decaylab.lab.execution.base": "decaylab.lab.executors",
    "decaylab.lab.execution.local": "decaylab.lab.executors",
    "decaylab.lab.execution.ray_cluster": "decaylab.lab.ray_executor",
}
"""decaylab's modules by the names run keys recorded for them in decaylab 0.2: a user's task that
reaches a decaylab function or class keys it by module and name, so a module that moves keeps its
old name here and stored results stay valid (``tests/lab/test_identity.py`` holds a 0.2 store)."""


def _named(module: str | None) -> str | None:
    """The name a module's objects are keyed by: its own, or the one it had before it moved."""
    return KEYED_AS.get(module or "", module)


def code_fingerprint(*roots: object) -> str:
    """A hex digest of ``roots`` and of the user code they reach."""
    walk = _Walk()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))  # long chains of user objects; the walk is plain Python calls
    try:
        for root in roots:
            walk.visit(root)
    finally:
        sys.setrecursionlimit(limit)
    return walk.digest.hexdigest()


def is_user_file(path: Path) -> bool:
    """Not the standard library, not an installed package (an editable install's sources are the
    user's), not decaylab."""
    path = path.resolve()
    return not (
        {"site-packages", "dist-packages"} & set(path.parts)
        or any(path.is_relative_to(root) for root in _INSTALLED)
        or path.is_relative_to(_DECAYLAB)
    )


def _module_is_users(name: str | None) -> bool:
    """Code of module ``name`` is the user's: a user file, ``__main__`` (a script, a REPL, stdin, a
    notebook), or code run with ``exec`` in a namespace of its own (no module at all)."""
    module = sys.modules.get(name or "")
    if module is None or name == "__main__":
        return True
    file = getattr(module, "__file__", None)
    return file is not None and is_user_file(Path(file))  # no file: a built-in or frozen module


STATE: dict[type, Callable[[Any], object]] = {
    random.Random: random.Random.getstate,
    np.random.RandomState: np.random.RandomState.get_state,
    np.random.Generator: lambda generator: generator.bit_generator.state,
    torch.Generator: torch.Generator.get_state,
}
"""Random generators, read by their state: the numbers they will draw."""
VALUES = (numbers.Number, PurePath, torch.dtype, torch.device, range, slice, operator.itemgetter, operator.attrgetter)
"""Library objects whose ``repr`` is their value (a fraction, a path, a device)."""


class _Walk:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.seen: dict[int, object] = {}
        """Visited objects by id, kept alive so that no later object can take a visited one's id."""

    def feed(self, *parts: object) -> None:
        for part in parts:
            self.digest.update(part if isinstance(part, bytes) else str(part).encode())
            self.digest.update(b"\0")

    def visit(self, value: Any) -> None:
        """Feed ``value`` and the user code it reaches: one case per kind of value."""
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
            self.feed(type(value).__name__, repr(value))
            return
        if id(value) in self.seen:
            self.feed("seen")
            return
        self.seen[id(value)] = value
        if isinstance(value, (tuple, list)):
            self.feed(type(value).__name__, len(value))
            for item in value:
                self.visit(item)
        elif isinstance(value, (set, frozenset)):  # in an order of their own: a set's follows hashes and ids
            self.feed("set", *sorted(code_fingerprint(item) for item in value))
        elif isinstance(value, (dict, types.MappingProxyType)):  # in insertion order, which the code decides
            for key, item in value.items():
                self.visit(key)
                self.visit(item)
        elif isinstance(value, torch.Tensor):
            self._tensor(value)
        elif isinstance(value, np.ndarray):
            contents = value.tolist() if value.dtype == object else np.ascontiguousarray(value).tobytes()
            self.feed("array", value.dtype, value.shape)
            self.visit(contents)
        elif isinstance(value, types.ModuleType):
            self._module(value)
        elif inspect.ismethod(value):
            self.visit((value.__func__, value.__self__))
        elif inspect.isfunction(value):
            self._function(value)
        elif inspect.isclass(value):
            self._class(value)
        elif isinstance(value, enum.Enum):  # a member: its name and value, and its class's code and members
            self.feed(value.name)
            self.visit((value.value, type(value)))
        elif inspect.isbuiltin(value):  # torch.relu, len: by name
            self.feed("builtin", _named(getattr(value, "__module__", None)), value.__qualname__)
        elif callable(value) and hasattr(value, "__wrapped__"):  # a decorated function (functools.cache, wraps)
            self.visit(value.__wrapped__)
            if _module_is_users(type(value).__module__):  # a decorator class of the user's: its code and fields
                self.visit((type(value), vars(value)))
        elif isinstance(value, functools.partial):
            self.visit((value.func, value.args, value.keywords))
        elif isinstance(value, (staticmethod, classmethod)):
            self.visit(value.__func__)
        elif isinstance(value, property):
            self.visit((value.fget, value.fset, value.fdel))
        elif type(value) in STATE:
            self.visit(STATE[type(value)](value))
        elif isinstance(value, np.generic):  # a numpy scalar
            self.feed(value.dtype, value.tobytes())
        elif isinstance(value, (nn.Module, types.SimpleNamespace, argparse.Namespace)):
            self.visit((type(value), vars(value)))
        elif _module_is_users(type(value).__module__):  # an instance of the user's own class
            slots = [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ())]
            fields = vars(value) if hasattr(value, "__dict__") else {}
            self.visit((type(value), fields, {name: getattr(value, name, None) for name in slots}))
        elif isinstance(value, os._Environ):  # the environment is the process's, not the task's
            self.feed("environ")
        elif dataclasses.is_dataclass(value):
            self.visit((type(value), {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}))
        elif isinstance(value, collections.deque):
            self.visit((type(value), list(value)))
        elif isinstance(value, VALUES):
            self.feed(type(value).__qualname__, _stable_repr(value))
        else:  # another library's object counts by its type: its repr may vary between processes (set order)
            self.feed(_named(type(value).__module__), type(value).__qualname__)

    def _tensor(self, tensor: torch.Tensor) -> None:
        tensor = tensor.detach()
        self.feed("tensor", tensor.dtype, tuple(tensor.shape), tensor.layout)
        if tensor.is_meta:  # no data
            return
        dense = tensor.to_dense() if tensor.layout != torch.strided else tensor
        self.feed(dense.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())

    def _module(self, module: types.ModuleType) -> None:
        """A user module: its file, and what it takes from other modules (``from deeper import act``),
        and its loaded submodules (``import package`` then ``package.models.net``)."""
        self.feed("module", _named(module.__name__))
        file = Path(getattr(module, "__file__", None) or "")
        if not (file.suffix == ".py" and file.is_absolute() and is_user_file(file)):
            return
        self.feed(file.read_bytes())
        for name, value in sorted(vars(module).items()):
            code = inspect.isfunction(value) or inspect.isclass(value)
            if isinstance(value, types.ModuleType) or (code and value.__module__ != module.__name__):
                self.feed(name)
                self.visit(value)
        if hasattr(module, "__path__"):  # a package
            for name in sorted(sys.modules):
                if name.startswith(module.__name__ + ".") and "." not in name[len(module.__name__) + 1 :]:
                    self.visit(sys.modules[name])

    def _function(self, function: types.FunctionType) -> None:
        self.feed("function", _named(function.__module__), function.__qualname__)
        if not _module_is_users(function.__module__):
            return
        try:
            self.feed(inspect.getsource(function))
        except (OSError, TypeError):  # defined where no source is kept
            self._code(function.__code__)
        self.visit((function.__defaults__, function.__kwdefaults__, vars(function)))  # attributes: a dispatch registry
        for cell in function.__closure__ or ():
            try:
                self.visit(cell.cell_contents)
            except ValueError:  # a cell not filled yet
                self.feed("empty cell")
        for name in sorted(_names(function.__code__)):
            if name in function.__globals__:
                self.feed(name)
                self.visit(function.__globals__[name])
            if name in sys.modules and _module_is_users(name):  # a module imported inside, or by importlib
                self.feed(name)
                self.visit(sys.modules[name])

    def _class(self, cls: type) -> None:
        self.feed("class", _named(cls.__module__), cls.__qualname__)
        if not _module_is_users(cls.__module__):
            return
        self.visit([base for base in cls.__bases__ if base is not object])
        if type(cls) is not type:  # a metaclass
            self.visit(type(cls))
        for name, attribute in sorted(vars(cls).items()):
            if name not in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
                self.feed(name)
                self.visit(attribute)

    def _code(self, code: types.CodeType) -> None:
        self.feed(code.co_code, code.co_names, code.co_varnames)
        for constant in code.co_consts:
            if isinstance(constant, types.CodeType):
                self._code(constant)
            else:
                self.visit(constant)


def _stable_repr(value: object) -> str:
    """``repr`` without memory addresses: the same in every process."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _names(code: types.CodeType) -> set[str]:
    """The global, attribute and module names ``code`` and the functions nested in it use, and its
    strings (``importlib.import_module("net")``)."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
        elif isinstance(constant, str) and constant.isidentifier():
            names.add(constant)
    return names
