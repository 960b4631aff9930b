"""The store of distributed mode: the one ``ArticleStore``, shared by many workers.

Each worker has its own ``ArticleStore`` (its own in-memory dedupe index), so two
workers extracting two copies of one wire story at the same moment would each call
theirs new. To keep "count stories, not copies" across workers, a worker writes in
batches under one PostgreSQL advisory lock per database schema (``STORE_LOCK``):
holding it, the store first *catches up* (adds to its index every article stored since
it last looked, by id), then decides and writes the batch, and commits before letting
go. Decisions are therefore made against everything any worker stored before.

The lock is held for one batch write (milliseconds); the crawl itself runs in parallel.
A worker killed while holding it loses its connection, and the server drops the lock.

``DistributedStorePipeline`` buffers ``PolledArticle``s, commits them every ``BATCH_SIZE``
items, every ``FLUSH_SECONDS`` and at close, then tells the poll ledger (through the
``settle`` callback) which polls' pages are now safely stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore, StoreOutcome
from spiders.crawler.store_lookups import newest_article_id, recent_fingerprints
from storage.locks import STORE_LOCK, holding

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
FLUSH_SECONDS = 1.0
REOPEN_AFTER = timedelta(hours=6)
"""The dedupe index is reloaded from the database this often, so it keeps to its window."""


class SharedArticleStore(ArticleStore):
    """An ``ArticleStore`` that can catch up with what other workers stored."""

    _seen_id = 0
    """The newest article id this store has looked at."""
    _opened_at: datetime | None = None

    def open(self) -> None:
        if self.loaded:
            return
        with self.session_factory() as session:
            self._seen_id = newest_article_id(session)
        self._opened_at = self.now_fn()
        super().open()

    def catch_up(self, sources: Sequence[str] = ()) -> int:
        """Add to the index what was stored since we last looked; learn new sources."""
        if self._opened_at is None or self.now_fn() - self._opened_at > REOPEN_AFTER:
            self.drop_index()
        if not self.loaded:
            self.open()
            return 0
        since = self.now_fn() - self.window
        with self.session_factory() as session:
            self.learn_sources(session, sources)
            fingerprints = recent_fingerprints(session, since, after_id=self._seen_id)
            newest = newest_article_id(session)
        self.remember(fingerprints)
        self._seen_id = max(self._seen_id, newest)
        return len(fingerprints)


@dataclass(frozen=True)
class PolledArticle:
    """An article on its way to the store, and the poll whose page it is."""

    article: ArticleItem
    poll_id: str


Settle = Callable[[str, int, int, int], None]
"""``settle(poll_id, pages, new, duplicates)``: ``pages`` of the poll are now stored."""


@dataclass(frozen=True)
class SharedStoreWiring:
    """What the pipeline needs, passed through the crawler settings."""

    engine: Engine
    store: SharedArticleStore
    settle: Settle

    def __deepcopy__(self, _memo: dict[int, object]) -> SharedStoreWiring:
        """Scrapy deep-copies its settings; the wiring stays these very objects."""
        return self


class DistributedStorePipeline:
    """Scrapy item pipeline of the workers (see the module doc).

    Wiring (``spiders.distributed.worker`` does this)::

        settings["MEDIAWATCH_SHARED_STORE"] = SharedStoreWiring(engine, store, settle)
    """

    def __init__(self, engine: Engine, store: SharedArticleStore, settle: Settle) -> None:
        self.engine = engine
        self.store = store
        self.settle = settle
        self.buffer: list[PolledArticle] = []
        self._loop: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> DistributedStorePipeline:
        from scrapy.exceptions import NotConfigured

        wiring = crawler.settings.get("MEDIAWATCH_SHARED_STORE")
        if not isinstance(wiring, SharedStoreWiring):
            raise NotConfigured("MEDIAWATCH_SHARED_STORE is not set")
        return cls(wiring.engine, wiring.store, wiring.settle)

    def open_spider(self, spider: Any = None) -> None:
        from twisted.internet.task import LoopingCall

        self.store.open()
        self._loop = LoopingCall(self.commit)
        self._loop.start(FLUSH_SECONDS, now=False)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, PolledArticle):
            self.buffer.append(item)
            if len(self.buffer) >= BATCH_SIZE:
                self.commit()
        return item

    def close_spider(self, spider: Any = None) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.commit()

    def commit(self) -> None:
        """Decide and write the buffered articles under the store lock, then settle."""
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        pages: Counter[str] = Counter()
        new: Counter[str] = Counter()
        duplicates: Counter[str] = Counter()
        try:
            with holding(self.engine, STORE_LOCK):
                self.store.catch_up([entry.article.source_name for entry in batch])
                for entry in batch:
                    outcome = self.store.add(entry.article)
                    pages[entry.poll_id] += 1
                    new[entry.poll_id] += outcome is StoreOutcome.NEW
                    duplicates[entry.poll_id] += outcome is StoreOutcome.DUPLICATE
                self.store.flush()
        except Exception:
            # Their polls are never settled: the sources are due again after the lease.
            logger.exception("storing a batch of %d articles failed", len(batch))
            self.store.forget()
            return
        for poll_id, count in pages.items():
            self.settle(poll_id, count, new[poll_id], duplicates[poll_id])
