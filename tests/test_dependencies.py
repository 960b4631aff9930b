"""Declared dependencies are true: what the code imports is declared, with a minimum
version that has the APIs the code calls."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(
    sorted(
        {
            name.split(".")[0]
            for name in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
                "tool"
            ]["setuptools"]["packages"]
        }
    )
)
"""The project's own top-level packages, as pyproject.toml installs them."""

# APIs newer than a library's oldest release: (library, pattern in the code, first version).
NEWER_APIS = (
    ("numpy", r"\bnp\.bitwise_count\b", "2.0"),
    ("numpy", r"\bnp\.(unstack|cumulative_sum|cumulative_prod|permute_dims)\b", "2.1"),
)


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra, items in project.get("optional-dependencies", {}).items():
        if extra != "dev":
            declared += items
    requirements = [Requirement(text) for text in declared]
    return {_canonical(req.name): req for req in requirements}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _sources() -> list[Path]:
    return [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_is_declared() -> None:
    declared = _requirements()
    providers = packages_distributions()
    ours = set(PACKAGES)
    missing = {}
    for path in _sources():
        for module in _imported_modules(path):
            if module in ours or module in sys.stdlib_module_names or module == "__future__":
                continue
            dists = {_canonical(name) for name in providers.get(module, [module])}
            if not dists & declared.keys():
                missing[module] = str(path.relative_to(ROOT))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_declared_minimums_have_the_apis_the_code_calls() -> None:
    declared = _requirements()
    code = {path: path.read_text(encoding="utf-8") for path in _sources()}
    for library, pattern, first in NEWER_APIS:
        users = [str(p.relative_to(ROOT)) for p, text in code.items() if re.search(pattern, text)]
        if not users:
            continue
        specifier = declared[library].specifier
        oldest_allowed = Version("0") if not specifier else None
        for spec in specifier:
            if spec.operator in (">=", "~=", "=="):
                oldest_allowed = Version(spec.version)
        assert oldest_allowed is not None and oldest_allowed >= Version(first), (
            f"{users} use {pattern} (needs {library}>={first}) but {library}{specifier} is declared"
        )


def test_the_container_image_copies_every_package() -> None:
    """A package missing from the Dockerfile installs nothing and fails only at run time."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, flags=re.M))
    assert set(PACKAGES) <= copied, f"not copied into the image: {set(PACKAGES) - copied}"


def test_every_package_of_the_tree_is_installed() -> None:
    """A sub-package missing from pyproject.toml works in the editable checkout and is
    missing from a real install (the container image, a wheel)."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for package in PACKAGES
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert found <= listed, f"not in [tool.setuptools] packages: {sorted(found - listed)}"
