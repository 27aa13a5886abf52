"""The package's architecture as a test: decaylab's imports form no cycle, and every import points down the
layers optim ← lab ← analysis ← claims ← cli (and api, the Python entry point, beside cli)."""

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
    """The decaylab modules ``path`` imports, at the top or inside functions (``if TYPE_CHECKING:`` blocks
    left out: they never run)."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
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


def test_decaylabs_imports_form_no_cycle():
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            assert state.get(target) != "open", "import cycle: " + " → ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])


def test_every_import_points_down_the_layers():
    upward = [
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if layer(module) is not None and layer(target) is not None and layer(target) > layer(module)
    ]
    assert not upward, upward
