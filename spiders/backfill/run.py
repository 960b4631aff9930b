"""One backfill run: list each cluster's past articles on GDELT, window by window, plan the
walks of the Telegram and sitemap sources (``spiders.backfill.walks``), then fetch and
store everything through the crawl's own spider and store, in one Scrapy run.

GDELT windows and sitemap spans are recorded as finished only after the store has
flushed, in one transaction; a channel's pages as they are stored. A run killed half-way
leaves the rest to do, and the next one skips the URLs already stored (``known_urls``),
so stopping and rerunning finishes the job. Stored articles keep their publication dates
(the page's, else GDELT's ``seendate`` or the sitemap's date; a post's own time), and
nothing within ``[detection] lookback`` of now is stored, so the detector's baselines
exist from day one and the past never opens an episode.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
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
from spiders.backfill.ledger import finished_windows, record_windows, resume_post, still_to_do
from spiders.backfill.progress import Progress, Step, silent
from spiders.backfill.spans import source_span
from spiders.backfill.walks import Walk, plan_walks, record_sitemaps
from spiders.crawler.jobs import SourceJob
from spiders.crawler.run import source_job, sync_configured_sources
from spiders.crawler.store import ArticleStore
from spiders.parsing.canonical import registrable_domain
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.telegram import channel_of
from storage.engine import session_factory, transaction
from storage.models import Source
from storage.queries import list_sources

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
    """Articles (or posts) found to store: GDELT's listed ones plus the walk's."""
    new: int
    duplicates: int
    failed: int
    """Articles the store could not write."""
    errors: int = 0
    """The walk's documents that failed (their part stays to do)."""
    pages: int = 0
    """Channel pages or sitemap documents fetched."""
    skipped: int = 0
    """Posts or entries left: undated, out of the span, done already, unusable."""
    note: str | None = None


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
    client: GdeltClient | None,
    *,
    since: timedelta,
    source: str | None = None,
    now: datetime,
    clock: Callable[[], datetime] = utcnow,
    progress: Progress = silent,
) -> BackfillSummary:
    """Backfill every cluster from GDELT (unless ``client`` is None; optionally on
    ``source``'s site only) and walk every Telegram and sitemap source (or ``source``);
    never raises for a failing window or page (its error is a line of ``problems``, and
    it stays to do)."""
    configured = {item.name: item for item in config.sources}
    if source is not None and source not in configured:
        raise ConfigError(f"unknown source: {source} (see `mediawatch sources list`)")
    factory = session_factory(engine)
    sync_configured_sources(config, factory, now)
    with factory() as session:
        jobs = _jobs(session, config, source)
        walks, already = plan_walks(session, jobs, now, since, config.detection.lookback)
    rows: list[ClusterRow] = []
    problems: list[str] = []
    listed: dict[str, ListedArticle] = {}
    if client is not None and not (source and configured[source].kind == "telegram"):
        listed = _list(config, factory, client, since, source, now, rows, problems, progress)
    sources: tuple[SourceRow, ...] = ()
    if listed or walks:
        cutoff = source_span(now, since, config.detection.lookback).end  # as ``plan``'s
        sources = _store(config, factory, listed, source, walks, cutoff, clock, progress)
    sources += tuple(SourceRow(name, 0, 0, 0, 0, note="already done") for name in already)
    problems += [f"{walk.job.name}: {error}" for walk in walks for error in walk.errors]
    failed = {row.source for row in sources if row.failed}
    if failed:
        problems.append("some articles could not be stored; their windows stay to do")
    else:
        with transaction(factory) as session:
            for row in rows:
                record_windows(session, row.cluster, source or "", row.done, clock())
    record_sitemaps(factory, walks, failed, clock())
    requests = client.requests if client is not None else 0
    return BackfillSummary(tuple(rows), sources, tuple(problems), requests)


def _list(
    config: Config,
    factory: sessionmaker[Session],
    client: GdeltClient,
    since: timedelta,
    source: str | None,
    now: datetime,
    rows: list[ClusterRow],
    problems: list[str],
    progress: Progress,
) -> dict[str, ListedArticle]:
    """Each cluster's articles GDELT lists in the windows still to do."""
    configured = {item.name: item for item in config.sources}
    scope = source or ""
    # GDELT's ``domain:`` matches a site's subdomains too (www., english.).
    domain = registrable_domain(_host(configured[source].url)) if source else None
    planned = plan(now, since, config.detection.lookback)
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
        for article in _walk(client, query, pending, row, problems, progress):
            listed.setdefault(article.url, article)
    return listed


def _jobs(session: Session, config: Config, source: str | None) -> list[SourceJob]:
    configured = {item.name: item for item in config.sources}
    rows = list_sources(session, enabled_only=False)
    return [
        source_job(row, configured[row.name], config)
        for row in rows
        if row.name in configured and (source is None or row.name == source)
    ]


def _walk(
    client: GdeltClient,
    query: str,
    pending: list[Window],
    row: ClusterRow,
    problems: list[str],
    progress: Progress = silent,
) -> list[ListedArticle]:
    """Ask for each window, oldest first; a full answer is split in halves and asked again."""
    found: list[ListedArticle] = []
    stack = list(reversed(pending))
    while stack:
        window = stack.pop()
        answer = client.artlist(query, window)
        lines = [f"{row.cluster} {window}: {line}" for line in answer.problems]
        step = Step(f"gdelt {row.cluster}", str(window), client.requests, len(found),
                    window.start, answer.error)  # fmt: skip
        progress(step)
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
    walks: list[Walk],
    cutoff: datetime,
    clock: Callable[[], datetime],
    progress: Progress,
) -> tuple[SourceRow, ...]:
    """Fetch, extract, dedupe, match and store the listed articles as the crawl does,
    each counted under the configured source of its site (else ``gdelt``), and walk
    ``walks``: one Scrapy run."""
    from spiders.backfill.pipeline import ORDER, LedgerPipeline
    from spiders.backfill.spider import BackfillSpider, walk_slots
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
    walked = {walk.job.name: walk for walk in walks}
    jobs = [_job(name, rows, configured.get(name), config) for name in sorted(entries)]
    jobs += [walk.job for walk in walks if walk.job.name not in entries]
    store = ArticleStore(sessions, config.watchlist(), clock)
    settings = crawler_settings(config.crawl)
    settings["MEDIAWATCH_STORE"] = store
    settings["ITEM_PIPELINES"] = {**settings["ITEM_PIPELINES"], LedgerPipeline: ORDER}
    settings["DOWNLOAD_SLOTS"] = walk_slots(walks, config.backfill.page_interval)
    crawl = config.crawl.model_copy(update={"max_articles_per_poll": 10**9})

    def resume(walk: Walk, moment: datetime) -> int | None:
        with sessions() as session:
            return resume_post(session, walk.job.name, channel_of(walk.job.url) or "", moment)

    prepared = prepare_spider(
        settings, BackfillSpider, crawl, sessions, clock,
        jobs=jobs, entries=entries, walks=walks, resume=resume, progress=progress, cutoff=cutoff,
    )  # fmt: skip
    failures: list[str] = []
    prepared.done.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
    logger.info("fetching %d listed article(s), walking %d source(s)", len(listed), len(walks))
    prepared.process.start()
    if failures:
        raise MediawatchError(f"the backfill crawl failed: {failures[0]}")
    out = []
    for job in sorted(jobs, key=lambda job: job.name):
        counts = store.counts.get(job.name)
        new, duplicates, failed = (
            (int(counts.new), int(counts.duplicates), int(counts.failed)) if counts else (0, 0, 0)
        )
        walk = walked.get(job.name)
        listed_here = len(entries.get(job.name, ())) + (walk.found if walk else 0)
        out.append(
            SourceRow(
                job.name, listed_here, new, duplicates, failed,
                errors=len(walk.errors) if walk else 0,
                pages=walk.pages if walk else 0,
                skipped=walk.skipped + _known(prepared, job.name) if walk else 0,
                note=_note(walk),
            )
        )  # fmt: skip
    return tuple(out)


def _known(prepared: Any, name: str) -> int:
    """Entries a sitemap listed that were stored already (not fetched again)."""
    spider = prepared.crawler.spider
    result = spider.results.get(name) if spider is not None else None
    return int(result.known) if result is not None else 0


def _note(walk: Walk | None) -> str | None:
    if walk is None:
        return None
    if walk.errors:
        return walk.errors[0][:200]
    if walk.ended:
        return "reached the channel's first post"
    return None


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
