"""A fingerprint of the code behind a task's functions: what its run keys see beyond the task file.

From each root (``make_model``, the loss, …) the walk reads a function's source (its bytecode
where no source is kept: a REPL, stdin), its defaults, its closure and every global it names,
and follows them into the user's own functions, classes and modules: a model class in another
folder of the project, a constant it reads, a width captured by a closure. Installed packages,
the standard library and decaylab count by name only; their versions belong to the
environment, not to the task. Nothing that varies between processes (addresses, ids) enters
the digest, so the same code gives the same fingerprint in every process.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import sysconfig
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

_INSTALLED = tuple(Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "platstdlib", "purelib", "platlib"))
_DECAYLAB = Path(__file__).resolve().parents[1]


def code_fingerprint(*roots: object) -> str:
    """A hex digest of ``roots`` and of the user code they reach."""
    walk = _Walk()
    for root in roots:
        walk.visit(root)
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


class _Walk:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.seen: set[int] = set()

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
        self.seen.add(id(value))
        if isinstance(value, (tuple, list)):
            self.feed(type(value).__name__, len(value))
            for item in value:
                self.visit(item)
        elif isinstance(value, (set, frozenset)):
            self.visit(sorted(value, key=repr))
        elif isinstance(value, dict):
            for key in sorted(value, key=repr):
                self.visit(key)
                self.visit(value[key])
        elif isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            self.feed("tensor", tensor.dtype, tuple(tensor.shape), tensor.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, np.ndarray):
            self.feed("array", value.dtype, value.shape, np.ascontiguousarray(value).tobytes())
        elif isinstance(value, types.ModuleType):
            file = Path(getattr(value, "__file__", None) or "")
            users = file.suffix == ".py" and file.is_absolute() and is_user_file(file)
            self.feed("module", value.__name__, file.read_bytes() if users else b"")
        elif callable(value) and hasattr(value, "__wrapped__") and not inspect.isclass(value):  # a decorated function
            self.visit(value.__wrapped__)
        elif isinstance(value, functools.partial):
            self.visit((value.func, value.args, value.keywords))
        elif isinstance(value, (staticmethod, classmethod)):
            self.visit(value.__func__)
        elif isinstance(value, property):
            self.visit((value.fget, value.fset, value.fdel))
        elif inspect.ismethod(value):
            self.visit((value.__func__, value.__self__))
        elif inspect.isfunction(value):
            self._function(value)
        elif inspect.isclass(value):
            self._class(value)
        elif isinstance(value, nn.Module):
            self.visit((type(value), value.state_dict()))
        elif _module_is_users(type(value).__module__) and hasattr(value, "__dict__"):
            self.visit((type(value), vars(value)))
        else:  # an installed library's object (a dtype, a device, an enum): its type and a stable repr
            text = repr(value)
            self.feed(type(value).__module__, type(value).__qualname__, "" if " at 0x" in text else text)

    def _function(self, function: types.FunctionType) -> None:
        self.feed("function", function.__module__, function.__qualname__)
        if not _module_is_users(function.__module__):
            return
        try:
            self.feed(inspect.getsource(function))
        except (OSError, TypeError):  # defined where no source is kept
            self._code(function.__code__)
        self.visit((function.__defaults__, function.__kwdefaults__))
        for cell in function.__closure__ or ():
            try:
                self.visit(cell.cell_contents)
            except ValueError:  # a cell not filled yet
                self.feed("empty cell")
        for name in sorted(_names(function.__code__)):
            if name in function.__globals__:
                self.feed(name)
                self.visit(function.__globals__[name])

    def _class(self, cls: type) -> None:
        self.feed("class", cls.__module__, cls.__qualname__)
        if not _module_is_users(cls.__module__):
            return
        self.visit([base for base in cls.__bases__ if base is not object])
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


def _names(code: types.CodeType) -> set[str]:
    """The global and attribute names ``code`` and the functions nested in it use."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names(constant)
    return names
