"""The project's imports between files, read from the source with ``ast`` (nothing is
imported): every ``import`` statement counts, inside functions and ``if TYPE_CHECKING:`` too."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str
    """``path:line`` of the import statement, relative to the project root."""


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the given top-level packages, by dotted name (a package is its
    ``__init__.py``)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_between_files(root: Path, packages: Iterable[str]) -> list[Import]:
    """Each import of one project module by another. Importing ``a.b.c`` also runs the
    ``__init__`` of ``a`` and ``a.b``: those count too, unless the importer is inside them
    (its own packages are already loaded when it runs)."""
    modules = project_modules(root, packages)
    found: list[Import] = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        own = _ancestors(importer) | ({importer} if is_package else set())
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            for target in _targets(node, importer, is_package, modules):
                for module in {target} | (_ancestors(target) - own):
                    if module != importer and module in modules:
                        found.append(Import(importer, module, where))
    return list(dict.fromkeys(found))  # `from a import b, c` is one import of a


def _targets(
    node: ast.AST, importer: str, is_package: bool, modules: Mapping[str, Path]
) -> list[str]:
    """The project modules one statement imports (nothing when it imports none)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return [m for m in (_known_prefix(name, modules) for name in names) if m]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        package = importer if is_package else importer.rpartition(".")[0]
        parts = package.split(".")
        anchor = ".".join(parts[: len(parts) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"  # `from a import b` where b is a module
        target = submodule if submodule in modules else _known_prefix(base, modules)
        if target:
            targets.append(target)
    return targets


def _known_prefix(name: str, modules: Mapping[str, Path]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts))}


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` for each group of nodes that reach each other."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    found = []
    for group in _strongly_connected(graph):
        if len(group) > 1:
            start = min(group)
            found.append(_path_back(graph, start, group))
    return sorted(found)


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a deep chain of imports)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
    return groups


def _path_back(graph: Mapping[str, set[str]], start: str, group: set[str]) -> list[str]:
    """The shortest way from ``start`` back to itself inside ``group``."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node] & group):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but no way back was found")
