"""The Scrapy item pipeline of ``crawl``: the thin shell around ``ArticleStore``."""

from __future__ import annotations

import logging
from typing import Any, Self

from spiders.crawler.items import ArticleItem
from spiders.crawler.store import ArticleStore

logger = logging.getLogger(__name__)


class StoreBound:
    """A Scrapy pipeline that works on the crawl's one ``ArticleStore`` (the setting
    ``MEDIAWATCH_STORE``); without the setting it is not configured."""

    def __init__(self, store: ArticleStore) -> None:
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        from scrapy.exceptions import NotConfigured

        store = crawler.settings.get("MEDIAWATCH_STORE")
        if store is None:
            raise NotConfigured("MEDIAWATCH_STORE is not set")
        return cls(store)


class StorePipeline(StoreBound):
    """Scrapy item pipeline around a ready ``ArticleStore``.

    Wiring (the crawl command does this)::

        settings["MEDIAWATCH_STORE"] = ArticleStore(session_factory(engine), watchlist)
        settings["ITEM_PIPELINES"] = {"spiders.crawler.store_pipeline.StorePipeline": 500}

    Items must be ``spiders.crawler.items.ArticleItem``; anything else passes through untouched.
    Per-source counts are in ``store.counts[source_name]`` (new, duplicates, known, failed);
    the spider's close flushes. Without the setting the pipeline is not configured."""

    def open_spider(self, spider: Any = None) -> None:
        self.store.open()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ArticleItem):
            try:
                self.store.add(item)
            except Exception as exc:  # one hostile article must not vanish without a trace
                # Counted as failed, so its poll is recorded partial and the page retried.
                logger.error(
                    "source %s: could not store %s: %s: %s",
                    item.source_name,
                    item.url[:200],
                    type(exc).__name__,
                    exc,
                )
                self.store.counts[item.source_name].failed += 1
        return item

    def close_spider(self, spider: Any = None) -> None:
        self.store.close()
