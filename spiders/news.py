"""The one spider: poll each source (feed or sitemap) with a conditional GET, follow its
new entries to their pages, extract them, and hand ``ArticleItem``s to the pipeline.

Thin on purpose: parsing is in ``feeds``/``sitemaps``/``aggregators``, deciding (dedupe,
match, store) in the store pipeline, and what each poll found is collected in
``PollResult``s that ``spiders.run`` records once the store has flushed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from spiders.aggregators import (
    clean_aggregator_title,
    decode_google_news_link,
    entry_publisher,
    is_google_news_link,
)
from spiders.canonical import canonical_url, prefer_canonical, site_of
from spiders.extract import extract_article
from spiders.feeds import FeedEntry, looks_like_json, parse_feed
from spiders.items import ArticleItem
from spiders.politeness import ROLE
from spiders.polls import PollResult
from spiders.sitemaps import SitemapEntry, looks_like_sitemap, parse_sitemap, recent_entries

logger = logging.getLogger(__name__)

KnownUrls = Callable[[Sequence[str]], set[str]]


@dataclass(frozen=True)
class SourceJob:
    """What the spider needs of one source: where, what kind, its validators, its manners."""

    name: str
    url: str
    kind: str = "feed"
    etag: str | None = None
    last_modified: str | None = None
    obey_robots: bool = True
    language: str | None = None


class NewsSpider(scrapy.Spider):
    name = "mediawatch"

    def __init__(
        self,
        jobs: Sequence[SourceJob],
        known_urls: KnownUrls,
        now: Callable[[], datetime],
        recent: timedelta = timedelta(days=3),
        max_articles: int = 500,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.jobs = list(jobs)
        self.known_urls = known_urls
        self.clock = now
        self.recent = recent
        self.max_articles = max_articles
        started = now()
        self.results = {job.name: PollResult(job.name, started) for job in self.jobs}
        self._asked: set[str] = set()

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for job in self.jobs:
            yield self.feed_request(job)

    def feed_request(self, job: SourceJob) -> scrapy.Request:
        """The poll's first request: a conditional GET of the source (its validators sent,
        a 304 handed to ``parse_source`` rather than treated as an error)."""
        headers = {}
        if job.etag:
            headers["If-None-Match"] = job.etag
        if job.last_modified:
            headers["If-Modified-Since"] = job.last_modified
        return self._request(
            job,
            job.url,
            "feed",
            self.parse_source,
            self.source_failed,
            headers=headers,
            handle_httpstatus_list=[304],
            top=True,
        )

    def _request(
        self,
        job: SourceJob,
        url: str,
        role: str,
        callback: Callable[..., Any],
        errback: Callable[[Failure], Any],
        *,
        headers: dict[str, str] | None = None,
        handle_httpstatus_list: list[int] | None = None,
        **cb_kwargs: Any,
    ) -> scrapy.Request:
        meta: dict[str, Any] = {ROLE: role, "job": job, "dont_obey_robotstxt": not job.obey_robots}
        if handle_httpstatus_list:
            meta["handle_httpstatus_list"] = handle_httpstatus_list
        return scrapy.Request(
            url,
            callback=callback,
            errback=errback,
            headers=headers,
            meta=meta,
            cb_kwargs={"job": job, **cb_kwargs},
            dont_filter=True,  # duplicates are dropped by _asked; redirects must reach errbacks
        )

    # -- sources -------------------------------------------------------------------------

    def parse_source(
        self, response: Response, job: SourceJob, top: bool = True
    ) -> Iterator[scrapy.Request]:
        result = self.results[job.name]
        if response.status == 304:
            result.succeed(304, "not_modified")
            return
        headers = response.headers.to_unicode_dict()
        if top:
            result.succeed(response.status)
            result.etag = headers.get("ETag")
            result.last_modified = headers.get("Last-Modified")
        body = response.body
        if looks_like_sitemap(body) or (
            job.kind == "sitemap" and not looks_like_json(body) and not _looks_like_feed(body)
        ):
            yield from self._sitemap(response, job, top)
            return
        feed = parse_feed(body, response.url, {str(k): str(v) for k, v in headers.items()})
        if feed.error:
            if top:
                result.fail(feed.error, response.status)
            logger.warning("source %s: %s (%s)", job.name, feed.error, response.url)
            return
        if feed.bozo:
            logger.info(
                "source %s: malformed feed, using its %d entries: %s",
                job.name,
                len(feed.entries),
                feed.bozo,
            )
        result.entries += len(feed.entries)
        result.ttl = feed.ttl_hint
        entries = [replace(e, language=e.language or feed.language) for e in feed.entries]
        yield from self._follow(job, response.url, entries)

    def _sitemap(self, response: Response, job: SourceJob, top: bool) -> Iterator[scrapy.Request]:
        result = self.results[job.name]
        sitemap = parse_sitemap(
            response.body, response.url, max_size=self.settings.getint("DOWNLOAD_MAXSIZE")
        )
        if sitemap.error:
            if top:
                result.fail(sitemap.error, response.status)
            logger.warning("source %s: %s (%s)", job.name, sitemap.error, response.url)
            return
        recent = recent_entries(sitemap.entries, self.clock(), self.recent)
        if sitemap.kind == "index":
            for child in recent[:50]:
                if child.loc not in self._asked:
                    self._asked.add(child.loc)
                    yield self._request(
                        job, child.loc, "feed", self.parse_source, self.child_failed, top=False
                    )
            return
        result.entries += len(sitemap.entries)
        yield from self._follow(job, response.url, [_sitemap_entry(e) for e in recent])

    def source_failed(self, failure: Failure) -> None:
        job: SourceJob = _request_of(failure).cb_kwargs["job"]
        result = self.results[job.name]
        status = failure.value.response.status if isinstance(failure.value, HttpError) else None
        retry_after = _request_of(failure).meta.get("retry_after")
        if retry_after is not None:
            result.retry_after = timedelta(seconds=retry_after)
        result.fail(describe_failure(failure), status)
        logger.warning("source %s failed: %s", job.name, result.error)

    def child_failed(self, failure: Failure) -> None:
        job: SourceJob = _request_of(failure).cb_kwargs["job"]
        logger.warning(
            "source %s: child sitemap %s failed: %s",
            job.name,
            _request_of(failure).url,
            describe_failure(failure),
        )

    # -- entries -------------------------------------------------------------------------

    def _follow(
        self, job: SourceJob, base: str, entries: Iterable[FeedEntry]
    ) -> Iterator[scrapy.Request]:
        """Canonicalise, drop what is stored (one query), ask for the rest's pages."""
        result = self.results[job.name]
        targets: dict[str, tuple[str, FeedEntry]] = {}
        for entry in entries:
            target = decode_google_news_link(entry.link) or entry.link
            try:
                url = canonical_url(target, base=base)
            except ValueError:
                logger.debug("source %s: unusable link %r", job.name, entry.link)
                continue
            if url not in targets and url not in self._asked:
                targets[url] = (target, entry)
        known = self.known_urls(list(targets))
        result.known += len(known)
        fresh = [(url, t) for url, t in targets.items() if url not in known]
        fresh.sort(key=lambda item: item[1][1].published or datetime.min, reverse=True)
        result.entry_times.extend(e.published for _, (_, e) in targets.items() if e.published)
        if len(fresh) > self.max_articles:
            logger.info(
                "source %s: following the newest %d of %d new entries",
                job.name,
                self.max_articles,
                len(fresh),
            )
            fresh = fresh[: self.max_articles]
            result.capped = True  # the rest wait for the next poll (see record_poll)
        for url, (target, entry) in fresh:
            self._asked.add(url)
            result.followed += 1
            yield self._request(
                job,
                target,
                "article",
                self.parse_article,
                self.article_failed,
                entry=entry,
                canonical=url,
            )

    def parse_article(
        self, response: Response, job: SourceJob, entry: FeedEntry, canonical: str
    ) -> Iterator[ArticleItem]:
        self.results[job.name].settled += 1
        url = canonical
        if is_google_news_link(response.url):
            yield self._fallback(job, entry, url, "Google News link could not be resolved")
            return
        if not isinstance(response, TextResponse):
            yield self._fallback(job, entry, url, "not a text page")
            return
        content_type = response.headers.get("Content-Type")
        extracted = extract_article(
            response.body,
            response.url,
            fallback_language=entry.language or job.language,
            content_type=content_type.decode("latin-1") if content_type else None,
        )
        if extracted is None:
            yield self._fallback(job, entry, url, "no main text could be extracted")
            return
        try:
            final = prefer_canonical(response.url, extracted.canonical_url)
        except ValueError:
            final = url
        yield ArticleItem(
            url=final,
            source_name=job.name,
            publisher=entry_publisher(entry, final, site_of(final)),
            fetched_at=self.clock(),
            title=extracted.title or _entry_title(entry),
            text=extracted.text,
            summary=entry.summary or extracted.description,
            author=extracted.author or entry.author,
            language=extracted.language or entry.language or job.language,
            published_at=_published(extracted.published_at, entry.published),
            extracted=True,
            listed_url=canonical,
        )

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        kwargs = _request_of(failure).cb_kwargs
        self.results[kwargs["job"].name].settled += 1
        yield self._fallback(
            kwargs["job"], kwargs["entry"], kwargs["canonical"], describe_failure(failure)
        )

    def _fallback(self, job: SourceJob, entry: FeedEntry, url: str, why: str) -> ArticleItem:
        logger.info("source %s: %s: %s; using the feed's title and summary", job.name, url, why)
        return ArticleItem(
            url=url,
            source_name=job.name,
            publisher=entry_publisher(entry, url, site_of(url)),
            fetched_at=self.clock(),
            title=_entry_title(entry),
            text=None,
            summary=entry.summary or None,
            author=entry.author,
            language=entry.language or job.language,
            published_at=entry.published,
            extracted=False,
            listed_url=url,
        )


PAGE_DATE_AGREES = timedelta(hours=36)
"""A page date this close to the feed's timestamp is taken to be the same moment."""


def _published(page: datetime | None, feed: datetime | None) -> datetime | None:
    """The feed's timestamp when the page's date agrees with it, else the page's date.

    The feed's is exact UTC; a page date is often a bare day (local midnight) or a time
    without zone taken as UTC, so it only wins when it is far from the feed's (a feed
    that stamps every entry with its build time) or the feed has none."""
    if page is None:
        return feed
    if feed is None or abs(page - feed) > PAGE_DATE_AGREES:
        return page
    return feed


def _entry_title(entry: FeedEntry) -> str:
    return clean_aggregator_title(entry.title, entry.publisher_name)


def _sitemap_entry(entry: SitemapEntry) -> FeedEntry:
    return FeedEntry(
        link=entry.loc, title=entry.news_title, published=entry.published, language=entry.language
    )


def _looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<channel"))


def _request_of(failure: Failure) -> scrapy.Request:
    """Scrapy attaches the failed request to the failure it hands an errback."""
    request: scrapy.Request = failure.request  # type: ignore[attr-defined]
    return request


def describe_failure(failure: Failure) -> str:
    """One line a user can act on: ``HTTP 500``, ``timed out after 30s``, ``refused ...``."""
    error = failure.value
    if isinstance(error, HttpError):
        return f"HTTP {error.response.status}"
    name = type(error).__name__
    text = str(error).strip()
    if "TimeoutError" in name or ("timeout" in text.lower() and "took longer" in text):
        return f"timed out ({text})" if text else "timed out"
    return f"{name}: {text}" if text and name not in text else (text or name)
