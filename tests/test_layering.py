"""The package's layers: imports point down only, and no module imports itself in a circle.

Layers, bottom to top (DESIGN §2): the dependency-free core (``_io``, ``classes``, ``viz``,
``config``) → ``layers`` → ``models`` → ``data`` / ``losses`` / ``metrics`` → ``engine`` →
``deploy`` → ``inference`` → ``tune`` → ``cli`` → the ``ffseg`` facade. A module may import its
own layer or any lower one. Imports inside functions count too (hiding an import in a function
does not change the dependency); only ``if TYPE_CHECKING:`` blocks are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "ffseg"

LAYERS: dict[str, int] = {
    "ffseg._io": 0,
    "ffseg._logs": 0,
    "ffseg._version": 0,
    "ffseg.model_index": 0,
    "ffseg.classes": 0,
    "ffseg.viz": 0,
    "ffseg.config": 0,
    "ffseg.layers": 1,
    "ffseg.models": 2,
    "ffseg.data": 3,
    "ffseg.losses": 3,
    "ffseg.metrics": 3,
    "ffseg.engine": 4,
    "ffseg.deploy": 5,
    "ffseg.inference": 6,
    "ffseg.tune": 7,
    "ffseg.serve": 7,
    "ffseg.cli": 8,
    "ffseg.__main__": 9,
    "ffseg": 9,  # the facade (ffseg/__init__.py)
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The layer of a module: that of its longest registered prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} belongs to no layer: add its top-level name to LAYERS")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, base: str | None, level: int, is_package: bool) -> str | None:
    if level == 0:
        return base
    anchor = module.split(".")
    anchor = anchor if is_package else anchor[:-1]
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, base] if base else anchor)


def imports_of(module: str) -> set[str]:
    """The ffseg modules ``module`` imports (``from pkg import sub`` resolves to ``pkg.sub``)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ffseg")
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node.module, node.level, path.name == "__init__.py")
            if target and target.split(".")[0] == "ffseg":
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: imports_of(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    own = layer_of(module)
    upward = sorted(m for m in GRAPH[module] if layer_of(m) > own)
    assert not upward, f"{module} (layer {own}) imports higher layers: " + ", ".join(
        f"{m} (layer {layer_of(m)})" for m in upward
    )


def _find_cycle() -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (cycle := dfs(module)):
            return cycle
    return None


def test_no_import_cycle() -> None:
    cycle = _find_cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("folder", ["benchmarks", "scripts"])
def test_scripts_use_the_library_not_the_cli(folder: str) -> None:
    offenders = []
    for path in sorted((ROOT / folder).glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("ffseg.cli")]
    assert not offenders, f"{folder}/ must import the library, not the CLI: {offenders}"


def test_the_checker_sees_a_planted_violation() -> None:
    """The graph is real: a known downward edge is present and layers are ordered."""
    assert "ffseg.models._registry" in GRAPH["ffseg.models._factory"]
    assert layer_of("ffseg.models.ffnet") < layer_of("ffseg.engine.train") < layer_of("ffseg.cli")
    assert "ffseg.engine.train" in GRAPH["ffseg.tune.objective"]  # tune sits on the trainer,
    assert "ffseg.deploy.bench" in GRAPH["ffseg.tune.latency"]  # on the latency bench,
    assert "ffseg.tune" in GRAPH["ffseg.cli.tune"]  # and under the CLI
    assert layer_of("ffseg.deploy") < layer_of("ffseg.tune") < layer_of("ffseg.cli")
