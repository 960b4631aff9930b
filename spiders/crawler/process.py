"""The Scrapy set-up that ``crawl`` and the workers of distributed mode share: one process,
one spider scheduled on it; the reactor starts once per process (``process.start()``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from config.models import CrawlConfig
from logs.configure import quiet_libraries
from spiders.crawler.extraction import Extraction, default_workers
from spiders.crawler.news import NewsSpider
from storage.queries import known_urls
from watchlist.mentions import Matcher


@dataclass(frozen=True)
class PreparedSpider:
    process: Any
    """The ``scrapy.crawler.CrawlerProcess``."""
    crawler: Any
    """The spider's ``Crawler`` (``crawler.spider`` once it runs)."""
    done: Any
    """The ``Deferred`` that fires when the spider closes (or fails to start)."""


def extraction_for(crawl: CrawlConfig, matcher: Matcher | None = None) -> Extraction:
    """The extraction workers ``crawl`` asks for (``[crawl] workers``, ``extract_timeout``),
    matching articles against ``matcher`` (the store's watch-list) when given."""
    workers = default_workers() if crawl.workers is None else crawl.workers
    return Extraction(workers, crawl.extract_timeout.total_seconds(), matcher)


def prepare_spider(
    settings: dict[str, Any],
    spider: type[NewsSpider],
    crawl: CrawlConfig,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    matcher: Matcher | None = None,
    **spider_args: Any,
) -> PreparedSpider:
    """A ``CrawlerProcess`` on ``settings`` (logging stays ours) with ``spider`` scheduled on
    it: the stored-URL lookup, ``clock`` and ``crawl``'s limits are its arguments, plus
    ``spider_args``. ``matcher``, the store's watch-list, lets the extraction workers
    match the articles (else the store does)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    def known(urls: Sequence[str]) -> set[str]:
        with sessions() as session:
            return known_urls(session, urls)

    # Our handler (logs.configure) stays the root's.
    process = CrawlerProcess({**settings, "LOG_INSTALL_ROOT_HANDLER": False})
    quiet_libraries()  # Scrapy has just reset its loggers to DEBUG
    crawler = process.create_crawler(spider)
    extraction = extraction_for(crawl, matcher)
    crawler.signals.connect(extraction.close, signal=signals.spider_closed)
    done = process.crawl(
        crawler,
        known_urls=known,
        now=clock,
        recent=crawl.recent,
        max_articles=crawl.max_articles_per_poll,
        extraction=extraction,
        **spider_args,
    )
    return PreparedSpider(process, crawler, done)
