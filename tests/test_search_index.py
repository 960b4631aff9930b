"""The search index under pathological articles: a body of hundreds of thousands of
3-byte characters is indexed within PostgreSQL's tsvector limit, and a row the database
refuses is skipped with one log line while the rest of its batch is indexed."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from support.report_archive import Archive, config_toml, make_archive

from archive import search_index
from archive.search import SearchFilters, cluster_rules, search
from archive.search_index import pending_count, search_body, sync_search_index
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade

T0 = datetime(2026, 3, 1, 8, 0)
TSVECTOR_LIMIT = (1 << 20) - 1


def cjk_words(count: int) -> str:
    """``count`` distinct 3-character words of CJK ideographs (3 UTF-8 bytes each)."""
    return " ".join(
        "".join(chr(0x4E00 + (number // 2000**place) % 2000) for place in range(3))
        for number in range(count)
    )


HUGE = cjk_words(100_000)  # 400,000 characters, 1.2 MB of UTF-8, all words distinct


def tsvector_bytes(body: str) -> int:
    """PostgreSQL's size of ``to_tsvector`` strings (lexemes, alignment, one position)."""
    total = 0
    for word in set(body.split()):
        size = len(word.encode())
        total += size + size % 2 + 4
    return total


def fill(archive: Archive) -> None:
    archive.add("PMF moves north", "The PMF said it moved north.", T0)
    archive.add("Data dump", f"PMF {HUGE}", T0 + timedelta(hours=1))
    archive.add("PMF again", "The PMF moved south.", T0 + timedelta(hours=2))


def titles(archive: Archive, query: str) -> list[str]:
    factory = session_factory(archive.engine)
    with factory() as session:
        result = search(
            session, query, archive.watchlist, cluster_rules([]), SearchFilters(limit=10)
        )
    return sorted(hit.title for hit in result.hits)


def test_a_distinct_body_stays_within_the_tsvector_limit() -> None:
    body = search_body("Data dump", HUGE + " " + "x" * 5_000, distinct=True)
    assert len(HUGE) == 399_999 and tsvector_bytes(HUGE) > TSVECTOR_LIMIT
    assert tsvector_bytes(body) <= (TSVECTOR_LIMIT + 1) // 2  # well under the limit
    assert body.startswith("data dump " + HUGE[:1_000])
    assert "x" * 5_000 not in body  # longer than PostgreSQL's longest lexeme


def test_an_ordered_body_keeps_a_whole_article_of_any_script() -> None:
    body = search_body("Data dump", HUGE)
    assert body == "data dump " + HUGE


@pytest.fixture
def pg_archive(postgres_url: str) -> Engine:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_postgres_indexes_a_huge_cjk_article_with_the_others(pg_archive: Engine) -> None:
    archive = make_archive(pg_archive)
    fill(archive)
    factory = session_factory(pg_archive)
    assert sync_search_index(factory, batch=2_000) == 3
    with factory() as session:
        assert pending_count(session) == 0
    assert titles(archive, "PMF") == ["Data dump", "PMF again", "PMF moves north"]
    assert titles(archive, HUGE[:3]) == ["Data dump"]


@pytest.mark.postgres
def test_a_row_the_database_refuses_is_skipped_once_and_logged(
    pg_archive: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the byte bound PostgreSQL refuses the huge body; its batch still goes in."""
    monkeypatch.setattr(search_index, "TSVECTOR_BUDGET", 10**9)
    archive = make_archive(pg_archive)
    for number in range(40):
        archive.add(f"PMF {number}", "The PMF said.", T0 + timedelta(minutes=number))
    fill(archive)
    factory = session_factory(pg_archive)
    with caplog.at_level(logging.WARNING, logger="archive.search_index"):
        assert sync_search_index(factory, batch=2_000) == 42
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "tsvector" in skipped[0].getMessage()
    with factory() as session:
        assert pending_count(session) == 0  # not retried at every run
        indexed = session.scalar(text("SELECT count(*) FROM article_search"))
    assert indexed == 42
    assert sync_search_index(factory) == 0
    assert len(titles(archive, "PMF")) == 10


@pytest.mark.postgres
def test_search_cli_on_postgres_with_a_huge_cjk_article(
    postgres_url: str, tmp_path: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    config.write_text(config_toml(postgres_url), encoding="utf-8")
    assert cli("--config", str(config), "init").code == 0
    engine = make_engine(postgres_url)
    fill(make_archive(engine))
    result = cli("--config", str(config), "search", "PMF", "--format", "json")
    engine.dispose()
    assert result.code == 0, result
    assert sorted(hit["title"] for hit in json.loads(result.out)) == [
        "Data dump",
        "PMF again",
        "PMF moves north",
    ]


def test_sqlite_indexes_a_huge_cjk_article_with_the_others(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    archive = make_archive(engine)
    fill(archive)
    factory = session_factory(engine)
    assert sync_search_index(factory) == 3
    assert titles(archive, "PMF") == ["Data dump", "PMF again", "PMF moves north"]
    assert titles(archive, HUGE[-3:]) == ["Data dump"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(search_index.search_pending)) == 0
    engine.dispose()
