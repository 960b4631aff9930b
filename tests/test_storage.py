"""Storage on real SQLite and PostgreSQL: migrations, pragmas, source sync, articles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from errors import StorageError
from storage.engine import make_engine, session_factory, transaction
from storage.migrate import current_revision, head_revision, require_current, upgrade
from storage.models import Article, Mention, Source
from storage.queries import (
    article_clusters,
    due_early,
    due_sources,
    iter_articles,
    known_urls,
    sync_sources,
)


@dataclass(frozen=True)
class Spec:
    name: str
    url: str
    kind: str = "feed"
    enabled: bool = True
    every: timedelta | None = None


TABLES = {"sources", "polls", "articles", "mentions", "alert_episodes", "alert_outbox"}


def test_upgrade_creates_every_table_and_is_safe_to_repeat(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_upgrade_from_the_previous_revision_keeps_the_data(db_url: str, now: datetime) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0001")
    assert "alert_outbox" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sources (name, url, kind, enabled, interval_seconds, next_poll_at,"
                " consecutive_failures, healthy, created_at)"
                " VALUES ('Rudaw', 'https://rudaw.example/rss', 'feed', true, 900, :now, 0,"
                " true, :now)"
            ),
            {"now": now},
        )
    with pytest.raises(StorageError, match="run `mediawatch init`"):
        require_current(engine)
    upgrade(engine)
    require_current(engine)
    with session_factory(engine)() as session:
        assert [s.name for s in session.scalars(select(Source))] == ["Rudaw"]
    engine.dispose()


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    engine.dispose()


def test_an_unreachable_database_is_one_clear_error() -> None:
    engine = make_engine("postgresql://127.0.0.1:1/nothing")
    with pytest.raises(StorageError, match="cannot open database"):
        current_revision(engine)


def test_an_unwritable_sqlite_folder_is_one_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot create the folder"):
        make_engine(f"sqlite:///{blocker}/sub/db.sqlite")


def test_sync_keeps_polling_state_and_disables_removed_sources(
    migrated_engine: Engine, now: datetime
) -> None:
    factory = session_factory(migrated_engine)
    default = timedelta(minutes=15)
    with transaction(factory) as session:
        result = sync_sources(
            session,
            [Spec("A", "https://a.example/rss"), Spec("B", "https://b.example/rss")],
            now,
            default,
        )
        assert result.added == ("A", "B")
    with transaction(factory) as session:
        row = session.scalars(select(Source).where(Source.name == "A")).one()
        row.etag, row.next_poll_at = '"v1"', now + timedelta(hours=1)
    later = now + timedelta(minutes=5)
    with transaction(factory) as session:
        result = sync_sources(session, [Spec("A", "https://a.example/rss")], later, default)
        assert result.disabled == ("B",) and result.added == ()
    with transaction(factory) as session:
        a = session.scalars(select(Source).where(Source.name == "A")).one()
        assert a.etag == '"v1"', "polling state survives a re-sync"
        assert due_sources(session, later) == [], "A not due yet, B disabled"
        assert [s.name for s in due_sources(session, now + timedelta(hours=2))] == ["A"]
    with transaction(factory) as session:
        sync_sources(session, [Spec("A", "https://a.example/atom")], later, default)
    with transaction(factory) as session:
        a = session.scalars(select(Source).where(Source.name == "A")).one()
        assert a.etag is None and a.next_poll_at == later, "a new URL is polled afresh"


def add_article(session, url: str, now: datetime, **fields):  # type: ignore[no-untyped-def]
    article = Article(url=url, publisher="example.org", fetched_at=now, seen_at=now, **fields)
    session.add(article)
    session.flush()
    return article


def test_a_canonical_url_is_stored_once(migrated_engine: Engine, now: datetime) -> None:
    factory = session_factory(migrated_engine)
    with transaction(factory) as session:
        add_article(session, "https://example.org/a", now, title="First")
    with pytest.raises(IntegrityError), transaction(factory) as session:
        add_article(session, "https://example.org/a", now, title="Again")
    with factory() as session:
        assert known_urls(session, ["https://example.org/a", "https://example.org/b"]) == {
            "https://example.org/a"
        }


def test_export_iteration_streams_articles_with_clusters_and_duplicates(
    migrated_engine: Engine, now: datetime
) -> None:
    factory = session_factory(migrated_engine)
    with transaction(factory) as session:
        first = add_article(session, "https://a.example/1", now, title="Wire story")
        first.story_id = first.id
        copy = add_article(session, "https://b.example/1", now, title="Wire story")
        copy.story_id, copy.duplicate_of_id = first.id, first.id
        for article in (first, copy):
            for cluster in ("PMF", "Interior Ministry"):
                session.add(
                    Mention(
                        article=article,
                        cluster=cluster,
                        term=cluster,
                        seen_at=now,
                        story_id=first.id,
                    )
                )
        for n in range(7):
            add_article(session, f"https://c.example/{n}", now + timedelta(days=n))
    with factory() as session:
        articles = list(iter_articles(session, batch=3))
        assert len(articles) == 9
        assert article_clusters(articles[0]) == ["Interior Ministry", "PMF"]
        assert articles[1].duplicate_of is not None
        assert articles[1].duplicate_of.url == "https://a.example/1"
        recent = list(iter_articles(session, since=now + timedelta(days=5)))
        assert [a.url for a in recent] == ["https://c.example/5", "https://c.example/6"]


def test_deleting_an_article_removes_its_mentions(migrated_engine: Engine, now: datetime) -> None:
    factory = session_factory(migrated_engine)
    with transaction(factory) as session:
        article = add_article(session, "https://a.example/x", now)
        session.add(Mention(article=article, cluster="PMF", term="PMF", seen_at=now))
    with transaction(factory) as session:
        session.execute(Article.__table__.delete())
    with factory() as session:
        assert session.scalars(select(Mention)).all() == []


def test_a_source_is_polled_at_the_tick_nearest_its_due_time(
    migrated_engine: Engine, now: datetime
) -> None:
    """Polls happen at the service's ticks. A source due 10 s after a tick of a 30 s tick
    is polled at that tick, not 30 s late at the next; one due 20 s after waits for the
    next (never more than half a tick early). Without this a 1-minute source was polled
    every 90 s (a finished poll schedules the next a few seconds past a tick)."""
    factory = session_factory(migrated_engine)
    tick = timedelta(seconds=30)
    with transaction(factory) as session:
        sync_sources(session, [Spec("soon", "https://a.example/rss"),
                               Spec("later", "https://b.example/rss")], now, tick)  # fmt: skip
    with transaction(factory) as session:
        for name, after in (("soon", 10), ("later", 20)):
            row = session.scalars(select(Source).where(Source.name == name)).one()
            row.next_poll_at = now + timedelta(seconds=after)
    with factory() as session:
        assert due_early(tick) == timedelta(seconds=15)
        assert [s.name for s in due_sources(session, now, early=due_early(tick))] == ["soon"]
        assert due_sources(session, now) == []  # without the early margin: none yet
