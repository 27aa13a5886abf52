"""The package's architecture as a test: decaylab's imports form no cycle, between modules or between rooms (a
folder of a layer, or a module beside the folders: ``lab.task``, ``lab.training``, ``lab.study``), and every
import points down the layers optim ← lab ← analysis ← claims ← cli (and api, the Python entry point, beside
cli). Imports under ``if TYPE_CHECKING:`` count: a type a module needs is a dependency all the same."""

import ast
from pathlib import Path

import decaylab

PACKAGE = Path(decaylab.__file__).parent
LAYERS = {"optim": 0, "lab": 1, "analysis": 2, "claims": 3, "cli": 4, "api": 4}
"""A module may import from its own layer and those below it, never from one above."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The decaylab modules ``path`` imports, at the top, inside functions or for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from decaylab.lab.task import checks` imports the module checks
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_the_module_graph_is_read():
    assert "decaylab.optim.rules" in GRAPH["decaylab.optim.reference"]
    assert "decaylab.lab.execution.ray_cluster" in GRAPH["decaylab.lab.execution"]  # a lazy import counts


def room(module: str) -> str:
    """``decaylab.lab.task.builtin.models`` lives in the room ``decaylab.lab.task``."""
    return ".".join(module.split(".")[:3])


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (its nodes in order, the first repeated last), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path, node, target]
            if target not in state and (found := visit(target, [*path, node])):
                return found
        state[node] = "done"
        return None

    return next((found for node in sorted(graph) if node not in state and (found := visit(node, []))), None)


def test_a_cycle_is_found():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_decaylabs_modules_import_each_other_in_no_cycle():
    assert cycle(GRAPH) is None, " → ".join(cycle(GRAPH) or [])


def test_decaylabs_rooms_import_each_other_in_no_cycle():
    rooms: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        rooms.setdefault(room(module), set()).update(room(target) for target in targets if room(target) != room(module))
    assert "decaylab.lab.task" in rooms["decaylab.lab.training"]
    assert cycle(rooms) is None, " → ".join(cycle(rooms) or [])


def test_every_import_points_down_the_layers():
    upward = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if layer(module) is not None and layer(target) is not None and layer(target) > layer(module)
    ]
    assert not upward, upward


LONG_FUNCTIONS = {"decaylab.lab.task.fingerprint.visit"}
"""Named with a reason (``docs/design-notes.md``): one case per kind of value, whose order is part of every run key."""


def test_no_file_is_over_400_lines_and_no_function_over_60():
    long_files = [name for name, path in MODULES.items() if path.read_text().count("\n") > 400]
    long_functions = [
        f"{name}.{node.name}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long_files, long_files
    assert set(long_functions) <= LONG_FUNCTIONS, sorted(set(long_functions) - LONG_FUNCTIONS)
