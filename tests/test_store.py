"""The store: every article once, copies grouped into stories, mentions per term.

Runs on a real SQLite file and on the local PostgreSQL server (``db_url``)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from support.store_items import OTHER_TEXT, TEXT, articles, item, make_store

from spiders.crawler.store import ArticleStore, StoreOutcome
from storage.engine import make_engine, session_factory
from storage.models import Article, Mention


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


def test_a_copy_links_to_the_story_s_first_copy_not_to_another_copy(
    migrated_engine: Engine, now: datetime
) -> None:
    """Forwards arrive in any order: a relay's copy (published later) is stored first, the
    channel's own post (published earlier) second, then another relay's. The third
    matched the channel's post, the earliest by publication, and linked to it though it
    was itself a copy: ``duplicate_of`` chained, and ``export`` named two "first copies"
    for one story (the Telegram test's ten forwards failed so, now and then)."""
    store = make_store(migrated_engine, now)
    relayed = now - timedelta(hours=1)
    store.add(item("https://t.example/relay0/600", now, publisher="relay0", published_at=relayed))
    store.add(item("https://t.example/channel/106", now, publisher="channel"))  # 2 h ago
    store.add(item("https://t.example/relay3/90", now, publisher="relay3", published_at=relayed))
    store.close()
    first, *copies = articles(migrated_engine)
    assert first.duplicate_of_id is None
    assert [copy.duplicate_of_id for copy in copies] == [first.id, first.id]
    assert {copy.story_id for copy in copies} == {first.id}


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
