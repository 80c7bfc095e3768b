"""The import structure of ``tunesmith``: no cycle between modules, and each module imports only lower layers.

How the check works: every ``.py`` file under ``src/tunesmith`` is parsed with :mod:`ast` (nothing is imported).
Every ``import`` and ``from ... import`` statement counts, wherever it stands (module level, inside a function,
under ``if``/``try``): a lazy import is the same dependency, only deferred. Relative imports are resolved against
the importing module's package. ``from package import name`` is an edge to ``package.name`` when that is a module
of the tree, else to ``package`` (its ``__init__``). Importing ``a.b.c`` executes ``a`` and ``a.b`` first, but
only the named module counts as an edge (a package's ``__init__`` importing its own submodules is no cycle).

(a) Cycles: the strongly connected components of that graph (Tarjan); each component of two or more modules, or
a module importing itself, is reported with one closed path through it.

(b) Layers: each module belongs to the unit named by its first component under ``tunesmith`` (``tunesmith.runs.folder``
-> ``runs``; the package's own ``__init__`` is the unit ``tunesmith``). ``LAYERS`` lists the units lowest first. A
module may import modules of its own unit and of any lower layer, never of a higher layer or of another unit in its
own layer. Each violating edge is listed as ``importer -> imported``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "tunesmith"

# Lowest first. A unit is a top-level module or subpackage of tunesmith; "tunesmith" is the package __init__.
LAYERS: list[tuple[str, ...]] = [
    ("tunesmith", "errors", "schedules", "distributed", "atomic"),  # L0
    ("textfiles",),  # L1: a user's text files read with tunesmith's errors only
    ("config",),  # L2
    ("data",),  # L3
    ("models",),  # L4: loading, chat formatting/encoding, answer-only head, collator, merging an adapter, INT8
    ("metrics",),  # L5: scores and the metrics.json contract
    ("retrieval", "rewrite"),  # L6: passages, the hybrid (faiss + BM25) index, retrieval scores; question rewrites
    ("runs",),  # L7: run folder, registry, lineage, compare, show, finished-run reading
    ("plan",),  # L8
    ("training",),  # L9
    ("tasks",),  # L10: the task contract, registry and one module per task
    ("continual", "reports"),  # L11
    ("pipeline",),  # L12: the one chain
    ("export", "serve", "tune", "ui"),  # L13: read finished run folders; studies of runs; the web UI over them
    ("cli", "api"),  # L14: the command line, and the same chain as Python functions
]
LAYER_OF = {unit: index for index, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, whether it is a package's __init__)."""
    return {module_name(path): (path, path.name == "__init__.py") for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def imported_modules(module: str, path: Path, is_package: bool, modules) -> set[str]:
    """The tunesmith modules ``module`` imports anywhere in its file."""
    found = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = discover()
    graph = {}
    for module, (path, is_package) in modules.items():
        edges = imported_modules(module, path, is_package, modules)
        unknown = {name for name in edges if name not in modules}
        assert not unknown, f"{module} imports modules that do not exist: {sorted(unknown)}"
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed path through each strongly connected component that has a cycle (Tarjan, iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return [closed_path(graph, component) for component in components]


def closed_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """The shortest path from the component's first module back to itself (breadth-first, inside the component)."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    violations = []
    for importer in sorted(graph):
        for imported in sorted(graph[importer]):
            if unit(importer) == unit(imported):
                continue
            if LAYER_OF[unit(imported)] >= LAYER_OF[unit(importer)]:
                violations.append(
                    f"{importer} (L{LAYER_OF[unit(importer)]}) -> {imported} (L{LAYER_OF[unit(imported)]})"
                )
    return violations


def test_every_module_has_a_layer():
    missing = sorted({unit(module) for module in discover()} - set(LAYER_OF))
    assert not missing, f"units missing from LAYERS: {missing}"


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(path) for path in found)


def test_imports_go_down_the_layers():
    violations = layer_violations(import_graph())
    assert not violations, f"{len(violations)} imports against the layers:\n" + "\n".join(violations)


def test_the_checks_catch_a_cycle_and_an_upward_import():
    graph = {"tunesmith.data.a": {"tunesmith.pipeline"}, "tunesmith.pipeline": {"tunesmith.data.a"}}
    assert cycles(graph) == [["tunesmith.data.a", "tunesmith.pipeline", "tunesmith.data.a"]]
    assert layer_violations(graph) == ["tunesmith.data.a (L3) -> tunesmith.pipeline (L12)"]
    assert layer_violations({"tunesmith.reports.x": {"tunesmith.continual"}, "tunesmith.continual": set()}) == [
        "tunesmith.reports.x (L11) -> tunesmith.continual (L11)"
    ]


def test_lazy_and_relative_imports_are_edges(tmp_path):
    source = tmp_path / "analyze.py"
    source.write_text(
        "from . import shapes\n"
        "from ..runs import RunFolder\n"
        "def later():\n"
        "    import tunesmith.pipeline\n"
        "    from tunesmith.models import chat\n"
    )
    modules = {"tunesmith.data.shapes", "tunesmith.runs", "tunesmith.pipeline", "tunesmith.models.chat"}
    found = imported_modules("tunesmith.data.analyze", source, False, modules)
    assert found == modules
