"""One crawl run in this process: pick the sources, run the spider once, record each poll.

The Twisted reactor starts once per process, so ``run_crawl`` runs once per process
(the CLI's ``crawl`` command; the service runs that as a subprocess).

Polls are recorded after the store has flushed its last batch, in one transaction: a
crawl killed half-way records nothing, its sources stay due, and the next run skips
the articles already stored (``known_urls``) while a lost ETag costs one full fetch.
A source some of whose articles the store could not write is recorded as partial (no
validators, retried soon: ``spiders.polling.policy``), with the reason in its summary row.

Each run first syncs the sources table with the config (as ``init`` does), so a source
added to config.toml is crawled without running ``init`` again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from config.models import Config, SourceConfig
from errors import MediawatchError
from spiders.crawler.jobs import SourceJob
from spiders.polling.polls import PollResult, record_poll
from storage.engine import session_factory, transaction
from storage.models import Source
from storage.queries import due_early, due_sources, list_sources, sync_sources

if TYPE_CHECKING:
    from spiders.crawler.store import ArticleStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSummary:
    source: str
    status: str
    http: int | None
    entries: int
    new: int
    duplicates: int
    not_modified: bool
    error: str | None
    next_poll_at: datetime | None = None


@dataclass(frozen=True)
class CrawlSummary:
    started_at: datetime
    finished_at: datetime
    sources: tuple[SourceSummary, ...]

    @property
    def new(self) -> int:
        return sum(row.new for row in self.sources)

    @property
    def errors(self) -> int:
        return sum(row.status == "error" for row in self.sources)


def run_crawl(
    config: Config,
    engine: Engine,
    *,
    due_only: bool,
    names: Sequence[str] = (),
    now: datetime,
    clock: Callable[[], datetime] = utcnow,
    jitter: Callable[[], float] = random.random,
) -> CrawlSummary:
    """Crawl the due (or all enabled) sources, optionally only ``names``; never raises for
    a failing source (its error is in the summary and on its row). Each polled source is
    next due as ``spiders.polling.policy`` says, with a ``jitter()`` draw each."""
    factory = session_factory(engine)
    sync_configured_sources(config, factory, now)
    configured = {source.name: source for source in config.sources}
    with factory() as session:
        early = due_early(config.service.tick)
        rows = _pick(session, due_only=due_only, names=names, now=now, early=early)
        jobs = [source_job(row, configured.get(row.name), config) for row in rows]
        picked = {row.name for row in rows}
    missing = [name for name in names if name not in picked and not due_only]
    if not jobs:
        logger.info("nothing to crawl (%s)", "no source is due" if due_only else "no sources")
        return CrawlSummary(now, clock(), tuple(_missing(name) for name in missing))

    # Scrapy, Twisted and the extractors load only when there is something to crawl: the
    # service's tick starts a crawl process every few seconds, mostly with nothing due.
    from spiders.crawler.news import NewsSpider
    from spiders.crawler.process import prepare_spider
    from spiders.crawler.settings import crawler_settings
    from spiders.crawler.store import ArticleStore

    watchlist = config.watchlist()
    store = ArticleStore(factory, watchlist, clock)
    settings = crawler_settings(config.crawl)
    settings["MEDIAWATCH_STORE"] = store
    settings["CLOSESPIDER_TIMEOUT"] = config.crawl.crawl_timeout.total_seconds() * 0.9
    prepared = prepare_spider(
        settings, NewsSpider, config.crawl, factory, clock, matcher=watchlist, jobs=jobs
    )
    failures: list[str] = []
    prepared.done.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
    logger.info("crawling %d source(s)", len(jobs))
    prepared.process.start()
    if failures:
        raise MediawatchError(f"the crawl failed: {failures[0]}")
    spider = prepared.crawler.spider
    results: dict[str, PollResult] = spider.results if isinstance(spider, NewsSpider) else {}
    finished = clock()
    summaries: list[SourceSummary] = []
    with transaction(factory) as session:
        for name in sorted(results):
            result = results[name]
            result.new, result.duplicates, result.failed = _counts(store, name)
            result.finished_at = finished
            if not result.answered:
                logger.warning("source %s: no answer before the crawl ended; still due", name)
                summaries.append(_summary(result, None))
                continue
            row = session.scalars(select(Source).where(Source.name == name)).one()
            decision = record_poll(session, row, result, finished, config.crawl, jitter=jitter())
            summaries.append(_summary(result, decision.next_poll_at))
    summaries.extend(_missing(name) for name in missing)
    return CrawlSummary(now, finished, tuple(summaries))


def sync_configured_sources(config: Config, factory: sessionmaker[Session], now: datetime) -> None:
    """The sources table made to match the config (as ``init`` does), so a source added to
    config.toml is crawled (or backfilled) without running ``init`` again."""
    try:
        with transaction(factory) as session:
            sync_sources(session, config.sources, now, config.crawl.min_interval * 3)
    except IntegrityError:  # another run added the same new source a moment ago
        logger.info("sources were synced by another run meanwhile")


def _pick(
    session: Session, *, due_only: bool, names: Sequence[str], now: datetime, early: timedelta
) -> list[Source]:
    if due_only:
        return due_sources(session, now, names, early)
    rows = list_sources(session, enabled_only=True)
    return [row for row in rows if not names or row.name in names]


def source_job(row: Source, source: SourceConfig | None, config: Config) -> SourceJob:
    """The one place a source row (and its config) becomes what the spider polls."""
    obey = config.crawl.obey_robots
    if source is not None and source.obey_robots is not None:
        obey = source.obey_robots
    return SourceJob(
        name=row.name,
        url=row.url,
        kind=row.kind,
        etag=row.etag,
        last_modified=row.last_modified,
        obey_robots=obey,
        language=source.language if source else None,
        sitemap_hosts=tuple(host.lower() for host in source.sitemap_hosts) if source else (),
        selectors=tuple((source.selectors or {}).items()) if source else (),
    )


def _counts(store: ArticleStore, name: str) -> tuple[int, int, int]:
    counts = store.counts.get(name)
    if counts is None:
        return 0, 0, 0
    return int(counts.new), int(counts.duplicates), int(counts.failed)


def _summary(result: PollResult, next_poll_at: datetime | None) -> SourceSummary:
    return SourceSummary(
        source=result.source,
        status=result.recorded_status,
        http=result.http_status,
        entries=result.entries,
        new=result.new,
        duplicates=result.duplicates,
        not_modified=result.status == "not_modified",
        error=result.note,
        next_poll_at=next_poll_at,
    )


def _missing(name: str) -> SourceSummary:
    return SourceSummary(
        name,
        "error",
        None,
        0,
        0,
        0,
        False,
        "not in the database; run `mediawatch init` after editing config.toml",
    )
