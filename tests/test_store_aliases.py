"""The store's aliases: the URL a feed listed is known after the page is stored under its
canonical one, recorded once even when crawls race, and deleted with its article.

Runs on a real SQLite file and on the local PostgreSQL server (``db_url``)."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine, select
from support.store_items import OTHER_TEXT, TEXT, articles, item, make_store

from spiders.crawler.store import ArticleStore, StoreOutcome
from storage.engine import make_engine, session_factory, transaction
from storage.models import Article, ArticleAlias
from storage.queries import add_aliases, known_urls, stored_urls


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
