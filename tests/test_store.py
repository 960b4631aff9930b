"""The store: every article once, copies grouped into stories, mentions per term.

Runs on a real SQLite file and on the local PostgreSQL server (``db_url``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from config.models import CrawlConfig, SourceConfig
from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore, StoreOutcome, StorePipeline
from spiders.parsing.feeds import parse_feed
from spiders.polling.plan import adaptive_plan
from spiders.polling.polls import PollResult, record_poll
from storage.engine import make_engine, session_factory, transaction
from storage.models import Article, ArticleAlias, Mention, Source
from storage.queries import add_aliases, known_urls, stored_urls, sync_sources

TEXT = " ".join(
    f"Sentence {n} says the Popular Mobilization Forces want the Interior Ministry in Baghdad."
    for n in range(12)
)
FEED = "https://wire.example/feed.json"
OTHER_TEXT = " ".join(
    f"Paragraph {n} reports that Peshmerga units reinforced positions near Kirkuk overnight."
    for n in range(12)
)


@dataclass(frozen=True)
class Match:
    name: str
    terms: tuple[str, ...]
    hits: int


class StandInWatchlist:
    """Finds fixed terms by substring: enough to check what the store does with matches."""

    clusters: ClassVar[dict[str, tuple[str, ...]]] = {
        "Interior Ministry": ("Interior Ministry",),
        "PMF": ("Popular Mobilization Forces", "Hashd"),
    }

    def match(self, text: str, title: str = "") -> Sequence[Match]:
        found = []
        for name, terms in self.clusters.items():
            seen = tuple(term for term in terms if term in f"{title}\n{text}")
            if seen:
                found.append(Match(name, seen, sum(f"{title}\n{text}".count(t) for t in seen)))
        return found


def item(url: str, now: datetime, **fields: object) -> ArticleItem:
    values: dict[str, object] = {
        "source_name": "Wire feed",
        "publisher": "wire.example",
        "fetched_at": now,
        "title": "Militias press for control of Iraq's Interior Ministry",
        "text": TEXT,
        "published_at": now - timedelta(hours=2),
    }
    values.update(fields)
    return ArticleItem(url=url, **values)  # type: ignore[arg-type]


def make_store(engine: Engine, now: datetime) -> ArticleStore:
    return ArticleStore(session_factory(engine), StandInWatchlist(), lambda: now)


def articles(engine: Engine) -> list[Article]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Article).order_by(Article.id)))


def test_same_url_twice_is_stored_once(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    assert store.add(item("https://wire.example/a?utm_source=rss", now)) is StoreOutcome.NEW
    assert store.add(item("https://wire.example/a", now)) is StoreOutcome.KNOWN
    store.close()
    again = make_store(migrated_engine, now)  # the next crawl
    assert again.add(item("https://wire.example/a", now)) is StoreOutcome.KNOWN
    again.close()
    assert [a.url for a in articles(migrated_engine)] == ["https://wire.example/a"]
    assert (store.counts["Wire feed"].new, store.counts["Wire feed"].known) == (1, 1)


def test_syndicated_copy_is_grouped_with_its_original(
    migrated_engine: Engine, now: datetime
) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://wire.example/a", now))
    store.close()
    later = make_store(migrated_engine, now)  # a later crawl sees it through its index
    outcome = later.add(
        item(
            "https://paper.example/b",
            now,
            publisher="paper.example",
            title="Armed factions eye Iraq interior post",
            text="By staff. " + TEXT,
        )
    )
    third = later.add(
        item(
            "https://blog.example/c",
            now,
            publisher="blog.example",
            title="Armed factions eye Iraq interior post",
        )
    )
    later.close()
    assert (outcome, third) == (StoreOutcome.DUPLICATE, StoreOutcome.DUPLICATE)
    original, copy, copy2 = articles(migrated_engine)
    assert original.duplicate_of_id is None
    assert original.story_id == original.id
    assert copy.duplicate_of_id == original.id
    assert copy.story_id == copy2.story_id == original.id


def test_copies_within_one_batch_share_the_story(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://wire.example/a", now))
    store.add(item("https://paper.example/b", now, publisher="paper.example", title="Other words"))
    store.close()
    original, copy = articles(migrated_engine)
    assert (copy.duplicate_of_id, copy.story_id) == (original.id, original.id)
    assert store.total.new == 1
    assert store.total.duplicates == 1


def test_generic_titles_are_not_merged(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://a.example/live-1", now, title="Live updates", text=TEXT))
    store.add(
        item(
            "https://b.example/live-2",
            now,
            publisher="b.example",
            title="Live updates",
            text=OTHER_TEXT,
        )
    )
    store.close()
    first, second = articles(migrated_engine)
    assert second.duplicate_of_id is None
    assert first.story_id != second.story_id


def test_mentions_are_stored_per_cluster_and_term(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://wire.example/a", now))
    store.add(
        item(
            "https://b.example/x",
            now,
            publisher="b.example",
            title="Kirkuk night moves",
            text=OTHER_TEXT,
        )
    )
    store.close()
    with session_factory(migrated_engine)() as session:
        rows = session.execute(
            select(
                Mention.cluster, Mention.term, Mention.seen_at, Mention.story_id, Article.story_id
            )
            .join(Article)
            .order_by(Mention.cluster)
        ).all()
    assert [(r.cluster, r.term) for r in rows] == [
        ("Interior Ministry", "Interior Ministry"),
        ("PMF", "Popular Mobilization Forces"),
    ]
    assert all(r[2] == now - timedelta(hours=2) and r[3] == r[4] for r in rows)


def test_future_publication_time_counts_from_fetch(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://a.example/future", now, published_at=now + timedelta(days=2)))
    store.add(item("https://b.example/undated", now, published_at=None, title="Short", text=""))
    store.add(
        item(
            "https://c.example/soon",
            now,
            published_at=now + timedelta(minutes=30),
            title="Another headline on other matters",
            text=OTHER_TEXT,
        )
    )
    store.close()
    future, undated, soon = articles(migrated_engine)
    assert future.seen_at == now
    assert future.published_at == now + timedelta(days=2)
    assert undated.seen_at == now
    assert soon.seen_at == now + timedelta(minutes=30)


def test_two_crawls_racing_store_a_url_once(
    db_url: str, migrated_engine: Engine, now: datetime
) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    stores = [make_store(engine, now) for engine in engines]
    for number, store in enumerate(stores):
        store.open()  # both loaded their index before either wrote
        store.add(item("https://wire.example/shared", now))
        store.add(
            item(
                f"https://own{number}.example/x",
                now,
                publisher=f"own{number}.example",
                title=f"Unrelated story number {number} from elsewhere",
                text=OTHER_TEXT if number else "x " * 10,
            )
        )
    barrier = threading.Barrier(2)

    def flush(store: ArticleStore) -> None:
        barrier.wait()
        store.flush()

    threads = [threading.Thread(target=flush, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    with session_factory(migrated_engine)() as session:
        shared = session.scalar(
            select(func.count()).where(Article.url == "https://wire.example/shared")
        )
        total = session.scalar(select(func.count()).select_from(Article))
    assert (shared, total) == (1, 3)
    assert sum(store.total.known for store in stores) == 1


def test_a_lost_race_falls_back_to_row_by_row(
    migrated_engine: Engine, now: datetime, monkeypatch: object
) -> None:
    winner = make_store(migrated_engine, now)
    loser = make_store(migrated_engine, now)
    loser.open()
    winner.add(item("https://wire.example/shared", now))
    winner.close()
    import spiders.crawler.store

    monkeypatch.setattr(spiders.crawler.store, "stored_urls", lambda session, urls: set())  # type: ignore[attr-defined]
    loser.add(
        item(
            "https://own.example/x",
            now,
            publisher="own.example",
            title="A story of its own about Kirkuk",
            text=OTHER_TEXT,
        )
    )
    loser.add(item("https://wire.example/shared", now))
    loser.close()
    assert [a.url for a in articles(migrated_engine)] == [
        "https://wire.example/shared",
        "https://own.example/x",
    ]
    assert (loser.total.new, loser.total.known) == (1, 1)


def aliases(engine: Engine) -> dict[str, str]:
    """Alias URL -> the URL of the article it names."""
    with session_factory(engine)() as session:
        rows = session.execute(
            select(ArticleAlias.url, Article.url).join(
                Article, Article.id == ArticleAlias.article_id
            )
        )
        return {alias: url for alias, url in rows}


def test_the_listed_url_of_a_page_stored_under_its_canonical_is_known(
    migrated_engine: Engine, now: datetime
) -> None:
    listed = "https://wire.example/feed-link?utm_source=rss"
    store = make_store(migrated_engine, now)
    assert store.add(item("https://wire.example/a", now, listed_url=listed)) is StoreOutcome.NEW
    plain = item("https://other.example/b", now, publisher="other.example",
                 title="A story of its own about Kirkuk", text=OTHER_TEXT,
                 listed_url="https://other.example/b")  # fmt: skip
    assert store.add(plain) is StoreOutcome.NEW
    store.close()
    # Stored under its own URL, reached under the (canonicalised) listed one.
    assert [a.url for a in articles(migrated_engine)] == [
        "https://wire.example/a",
        "https://other.example/b",
    ]
    assert aliases(migrated_engine) == {"https://wire.example/feed-link": "https://wire.example/a"}
    asked = [
        "https://wire.example/feed-link",
        "https://wire.example/a",
        "https://other.example/b",
        "https://wire.example/never",
    ]
    with session_factory(migrated_engine)() as session:
        assert known_urls(session, asked) == set(asked[:3])
        assert stored_urls(session, asked) == set(asked[1:3])  # what the store checks

    # A later crawl reaching the same page under yet another link: known, link recorded.
    later = make_store(migrated_engine, now)
    again = item("https://wire.example/a", now, listed_url="https://wire.example/moved")
    assert later.add(again) is StoreOutcome.KNOWN
    later.close()
    assert aliases(migrated_engine) == {
        "https://wire.example/feed-link": "https://wire.example/a",
        "https://wire.example/moved": "https://wire.example/a",
    }
    assert len(articles(migrated_engine)) == 2
    assert later.total.known == 1 and later.total.failed == 0

    # Insert-if-absent: an alias already there (even naming another article) stays.
    with transaction(session_factory(migrated_engine)) as session:
        add_aliases(session, [("https://wire.example/moved", "https://other.example/b"),
                              ("https://x.example/1", "https://x.example/not-stored")])  # fmt: skip
    assert aliases(migrated_engine)["https://wire.example/moved"] == "https://wire.example/a"
    assert "https://x.example/1" not in aliases(migrated_engine)

    # Deleting the article deletes its aliases.
    with transaction(session_factory(migrated_engine)) as session:
        session.delete(session.scalars(select(Article).where(Article.url.endswith("/a"))).one())
    assert aliases(migrated_engine) == {}


def test_a_copy_keeps_its_own_url_and_alias(migrated_engine: Engine, now: datetime) -> None:
    store = make_store(migrated_engine, now)
    store.add(item("https://wire.example/a", now))
    copy = item("https://paper.example/b", now, publisher="paper.example",
                title="Armed factions eye Iraq interior post", text="By staff. " + TEXT,
                listed_url="https://paper.example/rss/b")  # fmt: skip
    assert store.add(copy) is StoreOutcome.DUPLICATE
    store.close()
    original, stored_copy = articles(migrated_engine)
    assert stored_copy.url == "https://paper.example/b"
    assert stored_copy.duplicate_of_id == original.id
    assert aliases(migrated_engine) == {"https://paper.example/rss/b": "https://paper.example/b"}


def test_two_crawls_racing_record_an_alias_once(
    db_url: str, migrated_engine: Engine, now: datetime
) -> None:
    engines = [make_engine(db_url), make_engine(db_url)]
    stores = [make_store(engine, now) for engine in engines]
    for number, store in enumerate(stores):
        store.open()  # both loaded their index before either wrote
        store.add(item("https://wire.example/shared", now,
                       listed_url="https://wire.example/listed"))  # fmt: skip
        store.add(item(f"https://own{number}.example/x", now, publisher=f"own{number}.example",
                       title=f"Unrelated story number {number} from elsewhere",
                       text=OTHER_TEXT if number else "x " * 10,
                       listed_url=f"https://own{number}.example/listed"))  # fmt: skip
    barrier = threading.Barrier(2)

    def flush(store: ArticleStore) -> None:
        barrier.wait()
        store.flush()

    threads = [threading.Thread(target=flush, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert len(articles(migrated_engine)) == 3
    assert aliases(migrated_engine) == {
        "https://wire.example/listed": "https://wire.example/shared",
        "https://own0.example/listed": "https://own0.example/x",
        "https://own1.example/listed": "https://own1.example/x",
    }
    assert sum(store.total.known for store in stores) == 1
    assert sum(store.total.failed for store in stores) == 0


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
        record_poll(session, source, result, now, adaptive_plan(crawl))
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
        record_poll(
            session, source, result, now + timedelta(minutes=1), adaptive_plan(CrawlConfig())
        )
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
