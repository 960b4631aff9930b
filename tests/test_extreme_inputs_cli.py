"""Extreme values on the command line: every command answers, or says in one line what
is wrong (exit 2); never a traceback."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from support.report_archive import make_archive

from storage.engine import make_engine

LONG_OR = " OR ".join(f"w{number}" for number in range(1_000))
DEEP = "(" * 600 + "Hashd" + ")" * 600

CONFIG = """
[storage]
url = "{db}"

[[clusters]]
name = "PMF"
terms = ["PMF", "Hashd"]
"""
BIG = (
    CONFIG
    + f"""
[[clusters]]
name = "Big"
query = "{LONG_OR}"
"""
)


@pytest.fixture
def config(cli, write_config) -> str:  # type: ignore[no-untyped-def]
    path = str(write_config(CONFIG))
    assert cli("--config", path, "init").code == 0
    return path


def assert_answered(result) -> None:  # type: ignore[no-untyped-def]
    """Exit 0, or exit 2 with one ``mediawatch: error:`` message; no traceback."""
    assert "Traceback" not in result.err, result
    assert result.code in (0, 2), result
    if result.code == 2:
        assert result.err.startswith("mediawatch: error: "), result
        assert result.err.count("mediawatch: error:") == 1, result
        assert len(result.err) < 1_000, result


def test_a_thousand_term_cluster_query_loads_and_matches(cli, write_config) -> None:  # type: ignore[no-untyped-def]
    config = str(write_config(BIG))
    result = cli("--config", config, "match", "only w999 here", "--format", "json")
    assert result.code == 0, result
    assert json.loads(result.out) == {"clusters": [{"name": "Big", "terms": ["w999"]}]}


@pytest.mark.parametrize("query", [LONG_OR, " ".join(["PMF"] * 1_000), "PMF OR " + LONG_OR])
def test_search_with_a_thousand_terms_just_works(cli, config, sqlite_url, query: str) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(sqlite_url)
    archive = make_archive(engine)
    archive.add("Found", "The PMF said w999.", datetime(2026, 3, 1))
    archive.add("Other", "Nothing to see.", datetime(2026, 3, 1))
    engine.dispose()
    result = cli("--config", config, "search", query, "--format", "json")
    assert result.code == 0, result
    assert [hit["title"] for hit in json.loads(result.out)] == ["Found"]


@pytest.mark.parametrize("query", [DEEP, "NOT " * 1_000 + "x", "-" * 5_000 + "x"])
def test_search_nested_too_deeply_is_one_clear_error(cli, config, query: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("--config", config, "search", "--", query)
    assert_answered(result)
    assert result.code == 2 and "nested too deeply" in result.err.splitlines()[0]


def test_a_cluster_query_nested_too_deeply_is_a_config_error(cli, write_config) -> None:  # type: ignore[no-untyped-def]
    path = str(write_config(BIG.replace(LONG_OR, DEEP)))
    result = cli("--config", path, "match", "Hashd")
    assert_answered(result)
    assert result.code == 2 and "nested too deeply" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--since", "1000000d", "--format", "json"),
        ("report", "--since", "1000000d", "--by", "hour", "--format", "csv"),
        ("report", "--since", "0001-01-01T00:00+01:00", "--by", "week", "--format", "json"),
        ("report", "--since", "1d", "--until", "9999-12-31T23:59:59-01:00", "--format", "json"),
        ("report", "--since", "99999999999999999999999w", "--format", "json"),
        ("alerts", "list", "--since", "0001-01-01T00:00+01:00", "--format", "json"),
        ("alerts", "list", "--since", "9999-12-31T23:59:59-01:00", "--format", "json"),
        ("alerts", "list", "--since", "1000000d", "--format", "json"),
        ("alerts", "backtest", "--since", "1000000d", "--format", "json"),
        ("search", "PMF", "--since", "0001-01-01T00:00+01:00", "--format", "json"),
        ("search", "PMF", "--until", "9999-12-31T23:59:59-01:00", "--format", "json"),
        ("export", "--since", "1000000d"),
        ("rematch", "--since", "0001-01-01T00:00+01:00"),
    ],
)
def test_extreme_moments_answer_in_one_line(cli, config, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    assert_answered(cli("--config", config, *args))


def test_report_since_the_epoch_by_hour_says_how_to_narrow_it(cli, config) -> None:  # type: ignore[no-untyped-def]
    result = cli("--config", config, "report", "--since", "1000000d", "--by", "hour")
    assert result.code == 2, result
    assert "buckets" in result.err and "--by" in result.err
