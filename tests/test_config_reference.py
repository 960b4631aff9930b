"""README's config.toml reference documents every key of the config models, and no other.

The reference is read as the user reads it: each ``###`` heading names a section
(``[storage]``, ``[[alerts.channels]]``, every accepted spelling of it), and the first
column of the table under it names that section's keys. The models are walked from
``Config`` down, so a new key, a renamed key or a new section fails here until README
says so; a key README invents fails too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo

from config.models import Config

README = Path(__file__).resolve().parents[1] / "README.md"

ALL = "all"
"""In the channels table's ``for`` column: a key every channel type takes."""


# ---- the models ---------------------------------------------------------------------


def _names(name: str, field: FieldInfo) -> tuple[str, ...]:
    """How config.toml spells a field, preferred spelling first."""
    if isinstance(field.validation_alias, AliasChoices):
        return tuple(str(choice) for choice in field.validation_alias.choices)
    return (field.alias or name,)


def _models(annotation: Any) -> tuple[type[BaseModel], ...]:
    """The config models a field holds (through ``tuple[...]``, ``| None``, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return (annotation,)
    return tuple(model for arg in get_args(annotation) for model in _models(arg))


def _tag(model: type[BaseModel]) -> str:
    """The ``type = "..."`` that selects one model of a union (a channel's type)."""
    return str(get_args(model.model_fields["type"].annotation)[0])


def model_sections(
    model: type[BaseModel] = Config, prefix: str = ""
) -> dict[str, tuple[tuple[str, ...], dict[str, set[str]]]]:
    """Each section's path -> (its spellings, its keys by ``type`` tag, ``all`` if untagged).

    A field holding models is a section of its own (``alerts.channels``), not a key."""
    sections: dict[str, tuple[tuple[str, ...], dict[str, set[str]]]] = {}
    for name, field in model.model_fields.items():
        inner = _models(field.annotation)
        if not inner:
            continue
        spellings = tuple(prefix + spelling for spelling in _names(name, field))
        keys: dict[str, set[str]] = {}
        for each in inner:
            own = {
                _names(key, sub)[0]
                for key, sub in each.model_fields.items()
                if not _models(sub.annotation)
            }
            keys[_tag(each) if len(inner) > 1 else ALL] = own
            sections.update(model_sections(each, spellings[0] + "."))
        sections[spellings[0]] = (spellings, keys)
    return sections


# ---- README -------------------------------------------------------------------------


def reference(readme: str) -> str:
    """The "config.toml reference" chapter of README."""
    start = readme.index("\n## config.toml reference")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end > 0 else None]


def readme_sections(text: str) -> dict[tuple[str, ...], list[dict[str, str]]]:
    """Each ``###`` heading's section spellings -> the rows of the first table under it."""
    sections: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for block in reference(text).split("\n### ")[1:]:
        heading, *lines = block.splitlines()
        spellings = tuple(re.findall(r"`\[\[?([a-z_.]+)\]\]?`", heading))
        first = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
        table = []
        for line in lines[first:]:
            if not line.startswith("|"):
                break
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        header, rows = (table[0], table[2:]) if table else ([], [])
        sections[spellings] = [dict(zip(header, row, strict=True)) for row in rows]
    return sections


def readme_keys(rows: list[dict[str, str]], tags: set[str]) -> dict[str, set[str]]:
    """Keys by ``type`` tag: a ``for`` column spreads ``all`` to every tag."""
    keys: dict[str, set[str]] = {tag: set() for tag in tags}
    for row in rows:
        names = set(re.findall(r"`([a-z0-9_]+)`", row["key"]))
        applies = set(re.findall(r"[a-z]+", row.get("for", ALL)))
        for tag in keys if ALL in applies else applies:
            keys.setdefault(tag, set()).update(names)
    return keys


def check(readme: str) -> list[str]:
    """What README gets wrong about the config models, one line per problem."""
    documented = readme_sections(readme)
    problems = []
    for path, (spellings, keys) in model_sections().items():
        heading = next((h for h in documented if path in h), None)
        if heading is None:
            problems.append(f"[{path}]: no ### heading names it")
            continue
        if heading != spellings:
            problems.append(f"[{path}]: heading names {heading}, config.toml accepts {spellings}")
        written = readme_keys(documented.pop(heading), set(keys))
        for tag in sorted(set(keys) | set(written)):
            where = f"[{path}]" + (f' type = "{tag}"' if tag != ALL else "")
            missing = sorted(keys.get(tag, set()) - written.get(tag, set()))
            invented = sorted(written.get(tag, set()) - keys.get(tag, set()))
            if tag not in keys:
                problems.append(f"{where}: no such type")
            if missing:
                problems.append(f"{where}: README does not document {', '.join(missing)}")
            if invented:
                problems.append(f"{where}: README documents {', '.join(invented)}, not a key")
    for heading in filter(None, documented):  # a heading naming no section is prose
        problems.append(f"{heading}: README documents a section config.toml does not have")
    return problems


# ---- the tests ----------------------------------------------------------------------


def test_readme_documents_every_config_key_and_invents_none() -> None:
    assert check(README.read_text(encoding="utf-8")) == []


def test_the_walk_sees_every_section_and_the_keys_inside_unions() -> None:
    sections = model_sections()
    assert set(sections) == {
        "storage", "crawl", "sources", "clusters", "detection", "alerts",
        "alerts.channels", "service", "distributed", "web", "backfill",
    }  # fmt: skip
    assert sections["distributed"][0] == ("distributed", "cluster")
    channels = sections["alerts.channels"][1]
    assert set(channels) == {"email", "slack", "apprise", "webhook", "console"}
    assert {"from", "password_env", "mode", "at"} <= channels["email"]
    assert channels["console"] == {"type", "name", "mode", "at"}
    assert "channels" not in sections["alerts"][1][ALL]


LOOKBACK = ("| `lookback` |", "| `look_back` |")
URLS_ENV = ("| `urls_env` | apprise |", "| `urls_env` | slack |")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (LOOKBACK, "[detection]: README does not document lookback"),
        (LOOKBACK, "[detection]: README documents look_back, not a key"),
        (URLS_ENV, '[alerts.channels] type = "apprise": README does not document urls_env'),
        (URLS_ENV, '[alerts.channels] type = "slack": README documents urls_env, not a key'),
        (
            ("### `[distributed]` (or `[cluster]`", "### `[distributed]` ("),
            "[distributed]: heading names ('distributed',), "
            "config.toml accepts ('distributed', 'cluster')",
        ),
        (("### `[service]`", "### `[services]`"), "[service]: no ### heading names it"),
    ],
)
def test_a_key_edited_out_of_readme_is_caught(edit: tuple[str, str], problem: str) -> None:
    readme = README.read_text(encoding="utf-8")
    assert edit[0] in readme
    assert problem in check(readme.replace(edit[0], edit[1], 1))
