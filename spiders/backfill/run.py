"""One backfill run: list each cluster's past articles on GDELT, window by window, then
fetch and store them all through the crawl's own spider and store, in one Scrapy run.

Windows are recorded as finished only after the store has flushed, in one transaction:
a run killed half-way records nothing, and the next one lists those windows again while
the URLs already stored are skipped (``known_urls``), so stopping and rerunning finishes
the job. Stored articles keep their publication dates (the page's, else GDELT's
``seendate``), so the detector's baselines exist from day one and the past never looks new.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from config.models import Config, SourceConfig
from errors import ConfigError, MediawatchError
from spiders.backfill.client import GdeltClient
from spiders.backfill.gdelt import (
    MAX_RECORDS,
    REACH,
    ListedArticle,
    Window,
    cluster_query,
    windows,
)
from spiders.backfill.ledger import finished_windows, record_windows, still_to_do
from spiders.crawler.jobs import SourceJob
from spiders.crawler.run import source_job
from spiders.crawler.store import ArticleStore
from spiders.parsing.canonical import registrable_domain
from spiders.parsing.feeds import FeedEntry
from storage.engine import session_factory, transaction
from storage.models import Source
from storage.queries import list_sources, sync_sources

logger = logging.getLogger(__name__)

WINDOW = timedelta(days=1)
GDELT_JOB = "gdelt"
"""Where articles of a site no configured source covers are counted."""


@dataclass
class ClusterRow:
    cluster: str
    windows: int = 0
    """Windows (or their halves) finished in this run."""
    already: int = 0
    """Windows skipped, finished by an earlier run."""
    articles: int = 0
    errors: int = 0
    note: str | None = None
    done: list[tuple[Window, int]] = field(default_factory=list)


@dataclass(frozen=True)
class SourceRow:
    source: str
    listed: int
    new: int
    duplicates: int
    failed: int


@dataclass(frozen=True)
class BackfillSummary:
    clusters: tuple[ClusterRow, ...]
    sources: tuple[SourceRow, ...]
    problems: tuple[str, ...]
    """One line per window that failed (or had odd entries): the CLI prints them."""
    requests: int


def plan(now: datetime, since: timedelta, recent: timedelta = timedelta(0)) -> list[Window]:
    """Day windows from midnight ``since`` ago (within GDELT's reach) to the hour before
    ``now - recent``: the same plan within an hour, so a rerun asks for nothing finished.
    ``recent`` is the detector's lookback: what it still judges as new is left to the
    live crawl, so a backfilled article can never open an episode."""
    until = (now - recent).replace(minute=0, second=0, microsecond=0)
    start = (until - min(since, REACH)).replace(hour=0)
    if start < now - REACH:
        start += timedelta(days=1)
    return windows(start, until, WINDOW)


def run_backfill(
    config: Config,
    engine: Engine,
    client: GdeltClient,
    *,
    since: timedelta,
    source: str | None = None,
    now: datetime,
    clock: Callable[[], datetime] = utcnow,
) -> BackfillSummary:
    """Backfill every cluster (optionally on ``source``'s site only); never raises for a
    failing window (its error is a line of ``problems``, and it stays to do)."""
    configured = {item.name: item for item in config.sources}
    if source is not None and source not in configured:
        raise ConfigError(f"unknown source: {source} (see `mediawatch sources list`)")
    factory = session_factory(engine)
    try:
        with transaction(factory) as session:
            sync_sources(session, config.sources, now, config.crawl.min_interval * 3)
    except IntegrityError:  # a crawl added the same new source a moment ago
        logger.info("sources were synced by another run meanwhile")
    scope = source or ""
    # GDELT's ``domain:`` matches a site's subdomains too (www., english.).
    domain = registrable_domain(_host(configured[source].url)) if source else None
    planned = plan(now, since, config.detection.lookback)
    rows: list[ClusterRow] = []
    problems: list[str] = []
    listed: dict[str, ListedArticle] = {}
    for cluster in config.clusters:
        row = ClusterRow(cluster.name)
        rows.append(row)
        query = cluster_query(cluster.terms, domain)
        if query is None:
            row.note = "no term GDELT can search for (terms of 3+ characters)"
            continue
        with factory() as session:
            finished = finished_windows(session, cluster.name, scope)
        pending = still_to_do(planned, finished)
        row.already = sum(not still_to_do([window], finished) for window in planned)
        for article in _walk(client, query, pending, row, problems):
            listed.setdefault(article.url, article)
    sources = _store(config, factory, listed, source, clock) if listed else ()
    if any(item.failed for item in sources):
        problems.append("some articles could not be stored; their windows stay to do")
    else:
        with transaction(factory) as session:
            for row in rows:
                record_windows(session, row.cluster, scope, row.done, clock())
    return BackfillSummary(tuple(rows), tuple(sources), tuple(problems), client.requests)


def _walk(
    client: GdeltClient,
    query: str,
    pending: list[Window],
    row: ClusterRow,
    problems: list[str],
) -> list[ListedArticle]:
    """Ask for each window, oldest first; a full answer is split in halves and asked again."""
    found: list[ListedArticle] = []
    stack = list(reversed(pending))
    while stack:
        window = stack.pop()
        answer = client.artlist(query, window)
        lines = [f"{row.cluster} {window}: {line}" for line in answer.problems]
        if answer.error:
            row.errors += 1
            problems.append(f"{row.cluster} {window}: {answer.error}")
            logger.warning("backfill %s %s: %s", row.cluster, window, answer.error)
            continue
        if len(answer.articles) >= MAX_RECORDS and window.splittable:
            first, second = window.halves()
            stack.extend((second, first))
            continue
        problems.extend(lines)
        row.windows += 1
        row.done.append((window, len(answer.articles)))
        # An undated entry was seen within its window: never "now" (see ``plan``).
        found.extend(replace(a, seen=a.seen or window.start) for a in answer.articles)
    unique = {article.url: article for article in found}  # a boundary's article is in two
    row.articles = len(unique)
    return list(unique.values())


def _store(
    config: Config,
    sessions: sessionmaker[Session],
    listed: dict[str, ListedArticle],
    source: str | None,
    clock: Callable[[], datetime],
) -> tuple[SourceRow, ...]:
    """Fetch, extract, dedupe, match and store the listed articles as the crawl does,
    each counted under the configured source of its site (else ``gdelt``)."""
    from spiders.backfill.spider import ListedSpider
    from spiders.crawler.process import prepare_spider
    from spiders.crawler.settings import crawler_settings

    configured = {item.name: item for item in config.sources}
    by_site = {registrable_domain(_host(item.url)): item.name for item in config.sources}
    entries: dict[str, list[FeedEntry]] = defaultdict(list)
    for article in listed.values():
        name = source or by_site.get(registrable_domain(_host(article.url)), GDELT_JOB)
        entries[name].append(
            FeedEntry(
                link=article.url, title=article.title, published=article.seen, exact_time=False
            )
        )
    with sessions() as session:
        rows = {row.name: row for row in list_sources(session, enabled_only=False)}
    jobs = [_job(name, rows, configured.get(name), config) for name in sorted(entries)]
    store = ArticleStore(sessions, config.watchlist(), clock)
    settings = crawler_settings(config.crawl)
    settings["MEDIAWATCH_STORE"] = store
    crawl = config.crawl.model_copy(update={"max_articles_per_poll": len(listed) + 1})
    prepared = prepare_spider(
        settings, ListedSpider, crawl, sessions, clock, jobs=jobs, entries=entries
    )
    failures: list[str] = []
    prepared.done.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
    logger.info("fetching %d backfilled article(s)", len(listed))
    prepared.process.start()
    if failures:
        raise MediawatchError(f"the backfill crawl failed: {failures[0]}")
    out = []
    for name in sorted(entries):
        counts = store.counts.get(name)
        new, duplicates, failed = (
            (int(counts.new), int(counts.duplicates), int(counts.failed)) if counts else (0, 0, 0)
        )
        out.append(SourceRow(name, len(entries[name]), new, duplicates, failed))
    return tuple(out)


def _job(
    name: str, rows: dict[str, Source], source: SourceConfig | None, config: Config
) -> SourceJob:
    if name in rows and source is not None:
        return source_job(rows[name], source, config)
    return SourceJob(name=name, url=config.backfill.gdelt_url, obey_robots=config.crawl.obey_robots)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
