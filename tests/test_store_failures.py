"""The store when something goes wrong: a refused batch is stored item by item, an article
that cannot be stored is counted and polled again, hostile fields are cleaned, and an
article the pipeline trips on is counted failed, not lost.

Runs on a real SQLite file and on the local PostgreSQL server (``db_url``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from support.store_items import (
    FEED,
    OTHER_TEXT,
    Match,
    StandInWatchlist,
    articles,
    item,
    make_store,
)

from config.models import CrawlConfig, SourceConfig
from spiders.crawler.store import ArticleStore, StoreOutcome
from spiders.crawler.store_pipeline import StorePipeline
from spiders.parsing.feeds import parse_feed
from spiders.polling.polls import PollResult, record_poll
from storage.engine import session_factory, transaction
from storage.models import Article, Source
from storage.queries import sync_sources


class FlakySessions:
    """A session factory whose sessions refuse to flush an article of ``refused`` URLs,
    ``times`` times in all, as a locked or disconnected database does."""

    def __init__(self, engine: Engine, refused: set[str], times: int = 1) -> None:
        self.factory = session_factory(engine)
        self.refused = refused
        self.times = times

    def __call__(self) -> Session:
        session = self.factory()

        def before_flush(session: Session, _context: object, _instances: object) -> None:
            urls = {obj.url for obj in session.new if isinstance(obj, Article)}
            if self.times > 0 and urls & self.refused:
                self.times -= 1
                raise OperationalError("INSERT INTO articles", {}, Exception("database is locked"))

        event.listen(session, "before_flush", before_flush)
        return session


def test_a_batch_the_database_refuses_once_is_stored_item_by_item(
    migrated_engine: Engine, now: datetime
) -> None:
    sessions = FlakySessions(migrated_engine, {"https://b.example/x"}, times=1)
    store = ArticleStore(sessions, StandInWatchlist(), lambda: now)  # type: ignore[arg-type]
    store.add(item("https://wire.example/a", now))
    store.add(item("https://b.example/x", now, title="Kirkuk night moves", text=OTHER_TEXT))
    store.close()
    assert [a.url for a in articles(migrated_engine)] == [
        "https://wire.example/a",
        "https://b.example/x",
    ]
    assert (store.total.new, store.total.failed) == (2, 0)


def test_an_article_that_cannot_be_stored_is_counted_and_polled_again(
    migrated_engine: Engine, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    refused = "https://b.example/x"
    sessions = FlakySessions(migrated_engine, {refused}, times=2)  # the batch, then the item
    store = ArticleStore(sessions, StandInWatchlist(), lambda: now)  # type: ignore[arg-type]
    store.add(item("https://wire.example/a", now))
    store.add(item(refused, now, title="Kirkuk night moves", text=OTHER_TEXT))
    store.close()
    assert [a.url for a in articles(migrated_engine)] == ["https://wire.example/a"]
    counts = store.counts["Wire feed"]
    assert (counts.new, counts.failed) == (1, 1)
    assert f"could not store {refused}: database is locked" in caplog.text
    # The poll is partial: validators dropped, retried soon (within min_interval), and
    # `sources status` says why.
    with transaction(session_factory(migrated_engine)) as session:
        sync_sources(session, [SourceConfig(name="Wire feed", url=FEED)], now, timedelta(hours=1))
        source = session.scalars(select(Source)).one()
        source.etag = '"v1"'
        result = PollResult("Wire feed", now, followed=2, settled=2, failed=counts.failed)
        result.succeed(200)
        result.etag = '"v2"'
        crawl = CrawlConfig()
        record_poll(session, source, result, now, crawl, jitter=0.99)  # about the latest
        assert source.etag is None and source.last_status == "partial"
        assert now < source.next_poll_at <= now + crawl.min_interval * 1.1
        assert "1 article(s) could not be stored" in str(source.last_error)
    again = make_store(migrated_engine, now)  # the next poll fetches it again
    assert again.add(item(refused, now, title="Kirkuk night moves", text=OTHER_TEXT)) is (
        StoreOutcome.NEW
    )
    again.close()
    assert refused in {a.url for a in articles(migrated_engine)}


def test_a_capped_poll_keeps_no_validators(migrated_engine: Engine, now: datetime) -> None:
    with transaction(session_factory(migrated_engine)) as session:
        sync_sources(session, [SourceConfig(name="Wire feed", url=FEED)], now, timedelta(hours=1))
        source = session.scalars(select(Source)).one()
        result = PollResult("Wire feed", now, followed=3, settled=3, capped=True)
        result.succeed(200)
        result.etag = '"v2"'
        record_poll(session, source, result, now + timedelta(minutes=1), CrawlConfig(), jitter=0.5)
        assert (source.etag, source.next_poll_at) == (None, now + timedelta(minutes=1))


def test_hostile_json_feed_fields_are_stored(migrated_engine: Engine, now: datetime) -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [
                {
                    "url": "https://wire.example/nul",
                    "title": "Interior\u0000 Ministry\u0007 talks",
                    "summary": "A summary\u0000 with a NUL",
                    "authors": [{"name": 42}],
                }
            ],
        }
    ).encode()
    (entry,) = parse_feed(body, "https://wire.example/feed.json").entries
    assert entry.author == "42"
    store = make_store(migrated_engine, now)
    store.add(
        item(
            entry.link,
            now,
            title=entry.title,
            summary=entry.summary,
            author=entry.author,
            text="Page text\u0000 about the Interior Ministry.\n\tNext line\x1b.",
        )
    )
    store.close()
    (stored,) = articles(migrated_engine)
    assert stored.title == "Interior Ministry talks"
    assert stored.summary == "A summary with a NUL"
    assert stored.author == "42"
    assert stored.text == "Page text about the Interior Ministry.\n\tNext line."


class TrippingWatchlist(StandInWatchlist):
    """A matcher that trips on one hostile text (as a bug in any step might)."""

    def match(self, text: str, title: str = "") -> Sequence[Match]:
        if "\u202etrip" in title:
            raise RecursionError("maximum recursion depth exceeded")
        return super().match(text, title)


def test_an_article_the_pipeline_trips_on_is_counted_failed_not_lost(
    migrated_engine: Engine, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    store = ArticleStore(session_factory(migrated_engine), TrippingWatchlist(), lambda: now)  # type: ignore[arg-type]
    pipeline = StorePipeline(store)
    pipeline.open_spider()
    pipeline.process_item(item("https://wire.example/hostile", now, title="\u202etrip"))
    pipeline.process_item(item("https://wire.example/fine", now))
    pipeline.close_spider()
    assert [a.url for a in articles(migrated_engine)] == ["https://wire.example/fine"]
    assert store.counts["Wire feed"].failed == 1  # so its poll is partial and retried
    assert "could not store https://wire.example/hostile: RecursionError" in caplog.text
