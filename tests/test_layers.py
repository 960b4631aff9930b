"""The house holds: no import cycle between files, and no import from a lower layer to a
higher one (read from the source, so an import inside a function or ``if TYPE_CHECKING:``
counts the same)."""

from __future__ import annotations

import tomllib
from itertools import pairwise
from pathlib import Path

import pytest
from support.import_graph import Import, cycles, imports_between_files

ROOT = Path(__file__).resolve().parents[1]

# Bottom first. A module may import from its own layer or lower ones. The working packages
# share a layer: they may import each other, but not in a circle.
LAYERS = [
    ["errors"],
    ["clock"],
    ["logs"],
    ["watchlist"],
    ["config"],
    ["storage"],
    ["spiders", "alerts", "reports", "archive"],
    ["scheduler"],
    ["mediawatch"],
]
LAYER = {package: height for height, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str:
    return module.partition(".")[0]


def upward(imports: list[Import]) -> list[Import]:
    return [i for i in imports if LAYER[package_of(i.imported)] > LAYER[package_of(i.importer)]]


def circles_between_files(imports: list[Import]) -> list[str]:
    return [" -> ".join(cycle) for cycle in cycles((i.importer, i.imported) for i in imports)]


def circles_between_packages(imports: list[Import]) -> list[str]:
    """Circles among packages of one layer, each with one import per arrow as evidence."""
    evidence: dict[tuple[str, str], Import] = {}
    for i in sorted(imports, key=lambda i: i.where):
        edge = (package_of(i.importer), package_of(i.imported))
        if edge[0] != edge[1] and LAYER[edge[0]] == LAYER[edge[1]]:
            evidence.setdefault(edge, i)
    found = []
    for cycle in cycles(evidence):
        arrows = [evidence[edge] for edge in pairwise(cycle)]
        found.append(
            " -> ".join(cycle) + " (" + "; ".join(f"{a.where} {a.imported}" for a in arrows) + ")"
        )
    return found


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return imports_between_files(ROOT, LAYER)


def test_every_package_of_the_project_has_a_layer() -> None:
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {package_of(name) for name in listed["tool"]["setuptools"]["packages"]}
    assert packages == set(LAYER)


def test_no_import_cycle_between_files(imports: list[Import]) -> None:
    found = circles_between_files(imports)
    if found:
        pytest.fail("import cycles:\n" + "\n".join(found), pytrace=False)


def test_imports_flow_downward(imports: list[Import]) -> None:
    found = [f"{i.where}: {i.importer} imports {i.imported}" for i in upward(imports)]
    if found:
        pytest.fail(
            "imports from a lower layer to a higher one:\n" + "\n".join(found), pytrace=False
        )


def test_the_packages_of_one_layer_import_each_other_without_a_circle(
    imports: list[Import],
) -> None:
    found = circles_between_packages(imports)
    if found:
        pytest.fail("packages of one layer in a circle:\n" + "\n".join(found), pytrace=False)


def test_the_walk_sees_hidden_upward_imports_and_cycles(tmp_path: Path) -> None:
    """Planted in a small tree: an upward import under ``if TYPE_CHECKING:``, one inside a
    function, a relative import, and a cycle through a package's ``__init__``."""
    files = {
        "storage/__init__.py": "",
        "storage/models.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from scheduler.jobs import Job\n"
        ),
        "storage/queries.py": "def later():\n    import scheduler.jobs\n",
        "scheduler/__init__.py": "from .jobs import Job\n",
        "scheduler/jobs.py": "from . import policy\nclass Job: ...\n",
        "scheduler/policy.py": "from scheduler import Job\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")

    walked = imports_between_files(tmp_path, ["storage", "scheduler"])

    assert sorted(f"{i.where}: {i.imported}" for i in upward(walked)) == [
        "storage/models.py:3: scheduler",
        "storage/models.py:3: scheduler.jobs",
        "storage/queries.py:2: scheduler",
        "storage/queries.py:2: scheduler.jobs",
    ]
    assert circles_between_files(walked) == [
        "scheduler -> scheduler.jobs -> scheduler.policy -> scheduler"
    ]
