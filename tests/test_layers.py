"""The house's layers as docs/DESIGN.md states them, read from the code's own imports: no two
modules of `pipelines` import each other, directly or round a circle (an import inside a function
counts: it is the same dependency, only later), and the pure core does not import Dagster."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pipelines"
# the Dagster layer (DESIGN.md) and the commands and services that start Dagster processes
DAGSTER_LAYER = (
    "pipelines.assets",
    "pipelines.checks",
    "pipelines.definitions",
    "pipelines.resources",
    "pipelines.partitions",
    "pipelines.sensors",
    "pipelines.runs",
    "pipelines.cli",
    "pipelines.uiproc",
    "pipelines.operations",
    "pipelines.freshness",
    "pipelines.city.services",
)
PURE_CORE = ("pipelines.matching", "pipelines.rules", "pipelines.ingest", "pipelines.exports")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports, anywhere in it (relative imports resolved; `from a
    import b` is module a.b when that is a module, else a)."""
    own = _module(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules and name != own}


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules round it (None: there is none). A package's
    __init__ importing its own submodules is how a package is made, not a circle."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for other in sorted(graph[name]):
            if name.startswith(other + "."):
                continue  # a submodule's import of its own package's __init__
            if state.get(other) == 1:
                return path[path.index(other) :] + [other]
            if other not in state and (found := visit(other)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_two_modules_import_each_other():
    graph = _graph()
    assert len(graph) > 80 and graph["pipelines.ingest.table"]  # the house was read
    assert _circle(graph) is None, " → ".join(_circle(graph) or [])


def test_the_circle_finder_finds_a_circle():
    # the check above is only as good as this: a circle through a lazy import is found
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circle(graph) == ["a", "b", "c", "a"]
    assert _circle({"a": {"b"}, "b": set()}) is None


def test_the_pure_core_does_not_import_dagster():
    for path in PACKAGE.rglob("*.py"):
        name = _module(path)
        if not name.startswith(PURE_CORE):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
        }
        assert "dagster" not in imported, name
