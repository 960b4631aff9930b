"""The one spider: poll each source (feed, sitemap or Telegram channel) with a conditional
GET, follow its new entries to their pages, extract them, and hand ``ArticleItem``s to the
pipeline (a channel's posts are their own pages: one request a poll).

Thin on purpose: parsing is in ``spiders.parsing`` (feeds, sitemaps, aggregators, listing
pages, Telegram previews), what a source lists made into entries in ``listed``, a followed page
made into its item in ``spiders.crawler.article_pages``, deciding (dedupe, match, store)
in the store pipeline, and what each poll found is collected in ``PollResult``s that
``spiders.crawler.run`` records once the store has flushed.

The rule that keeps coverage: a poll is recorded as answered only once its document was
read. Anything that goes wrong while reading it fails the poll (its validators are not
saved, so the next poll reads the document again); one unusable entry is skipped with
its reason; a child sitemap that fails leaves the poll partial, retried soon.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from errors import SourceError
from spiders.crawler.article_pages import article_item, fallback_item, page_to_extract, post_item
from spiders.crawler.extraction import Extraction
from spiders.crawler.items import ArticleItem
from spiders.crawler.jobs import SourceJob
from spiders.crawler.listed import listed_entry, looks_like_feed, refuse_child, sitemap_entry
from spiders.crawler.politeness import ROLE
from spiders.parsing.aggregators import decode_google_news_link
from spiders.parsing.canonical import MAX_URL_LENGTH, canonical_url
from spiders.parsing.feeds import FeedEntry, looks_like_json, parse_feed
from spiders.parsing.listing import find_article_links
from spiders.parsing.sitemaps import SitemapEntry, looks_like_sitemap, parse_sitemap, recent_entries
from spiders.parsing.telegram import ChannelPost, parse_channel_page
from spiders.polling.polls import PollResult

logger = logging.getLogger(__name__)

KnownUrls = Callable[[Sequence[str]], set[str]]

MAX_CHILD_SITEMAPS = 50
"""Child sitemaps followed per index and poll, newest first."""


class NewsSpider(scrapy.Spider):
    name = "mediawatch"

    def __init__(
        self,
        jobs: Sequence[SourceJob],
        known_urls: KnownUrls,
        now: Callable[[], datetime],
        recent: timedelta = timedelta(days=3),
        max_articles: int = 500,
        extraction: Extraction | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extraction = extraction or Extraction(workers=0, limit=0)
        """Where article pages are extracted (in this process unless told otherwise)."""
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
        self, response: Response, job: SourceJob, top: bool = True, depth: int = 0
    ) -> Iterator[scrapy.Request | ArticleItem]:
        result = self.results[job.name]
        if response.status == 304:
            asked = response.request is not None and any(
                name in response.request.headers
                for name in (b"If-None-Match", b"If-Modified-Since")
            )
            if asked or not top:
                result.succeed(304, "not_modified")
            else:  # nothing was read: "not modified" would hide the source for good
                result.fail("answered 304 Not Modified to a request without validators", 304)
            return
        try:
            requests = self._read_source(response, job, depth)
        except SourceError as exc:
            reason = str(exc)
        except Exception as exc:  # hostile input or a lost database: the poll did not happen
            reason = f"could not read {response.url}: {type(exc).__name__}: {exc}"
        else:
            if "dataloss" in response.flags:  # the server hung up before the end
                result.problems.append(f"{response.url} was cut short; the rest comes next poll")
            if top:  # only now: a poll whose document was not read must not look done
                headers = response.headers.to_unicode_dict()
                result.succeed(response.status)
                result.etag = headers.get("ETag")
                result.last_modified = headers.get("Last-Modified")
            yield from requests
            return
        if top:
            result.fail(reason, response.status)
        else:
            result.problems.append(f"child sitemap {response.url}: {reason}")
        logger.warning("source %s: %s (%s)", job.name, reason, response.url)

    def _read_source(
        self, response: Response, job: SourceJob, depth: int
    ) -> Sequence[scrapy.Request | ArticleItem]:
        """The requests (or, for a channel, the items) a source document gives;
        ``SourceError`` when it is unusable."""
        result = self.results[job.name]
        body = response.body
        if job.kind == "telegram":
            return self._channel(response, job)
        if job.kind == "html":
            return self._listing(response, job)
        if looks_like_sitemap(body) or (
            job.kind == "sitemap" and not looks_like_json(body) and not looks_like_feed(body)
        ):
            return self._sitemap(response, job, depth)
        headers = response.headers.to_unicode_dict()
        feed = parse_feed(body, response.url, {str(k): str(v) for k, v in headers.items()})
        if feed.error:
            raise SourceError(feed.error)
        if feed.bozo:
            logger.info(
                "source %s: malformed feed, using its %d entries: %s",
                job.name,
                len(feed.entries),
                feed.bozo,
            )
        result.entries += len(feed.entries) + len(feed.skipped)
        for reason in feed.skipped:
            result.skip(reason)
        result.ttl = feed.ttl_hint
        entries = [replace(e, language=e.language or feed.language) for e in feed.entries]
        return list(self._follow(job, response.url, entries))

    def _sitemap(self, response: Response, job: SourceJob, depth: int) -> list[scrapy.Request]:
        result = self.results[job.name]
        sitemap = parse_sitemap(
            response.body, response.url, max_size=self.settings.getint("DOWNLOAD_MAXSIZE")
        )
        if sitemap.error:
            raise SourceError(sitemap.error)
        for reason in sitemap.skipped:
            result.skip(reason)
        recent = recent_entries(sitemap.entries, self.clock(), self.recent)
        if sitemap.kind == "index":
            return self._children(job, recent, depth)
        result.entries += len(sitemap.entries)
        return list(self._follow(job, response.url, [sitemap_entry(e) for e in recent]))

    def _listing(self, response: Response, job: SourceJob) -> list[scrapy.Request]:
        """A feedless site's listing page: its article links followed like feed entries."""
        try:
            links = find_article_links(response.body, response.url, dict(job.selectors) or None)
        except ValueError as exc:  # selectors config.toml let through but lxml refuses
            raise SourceError(f"selectors: {exc}") from None
        self.results[job.name].entries += len(links)
        return list(self._follow(job, response.url, [listed_entry(link) for link in links]))

    def _channel(self, response: Response, job: SourceJob) -> list[ArticleItem]:
        """A channel page's posts newer than the newest one stored (the store dedupes the
        rest anyway); when capped, the oldest of them, so the next poll goes on from there."""
        result = self.results[job.name]
        page = parse_channel_page(response.body, job.url)  # posts on the configured host
        if page.error:
            raise SourceError(page.error)
        for reason in page.skipped:
            result.skip(reason)
        result.entries += len(page.posts)
        result.entry_times.extend(post.published for post in page.posts if post.published)
        posts: dict[str, ChannelPost] = {}
        for post in page.posts:
            posts.setdefault(canonical_url(post.url), post)
        known = self.known_urls(list(posts))
        result.known += len(known)
        newest = max((posts[url].id for url in known), default=-1)
        fresh = [url for url, post in posts.items() if post.id > newest and url not in known]
        fresh = sorted((url for url in fresh if url not in self._asked), key=lambda u: posts[u].id)
        room = max(0, self.max_articles - result.followed_before - result.followed)
        if len(fresh) > room:
            logger.info("source %s: the oldest %d of %d new posts", job.name, room, len(fresh))
            fresh, result.capped = fresh[:room], True
        self._asked.update(fresh)
        return [post_item(job, posts[url], url, page.title, self.clock) for url in fresh]

    def _children(
        self, job: SourceJob, children: Sequence[SitemapEntry], depth: int
    ) -> list[scrapy.Request]:
        """Requests for an index's recent children: on the source's own site (or a host
        configured in ``sitemap_hosts``), at most ``MAX_SITEMAP_DEPTH`` levels down."""
        result = self.results[job.name]
        requests = []
        for child in children[:MAX_CHILD_SITEMAPS]:
            if child.loc in self._asked:
                continue
            refused = refuse_child(job, child.loc, depth + 1)
            if refused:
                result.skip(refused)
                logger.info("source %s: not following %s: %s", job.name, child.loc, refused)
                continue
            self._asked.add(child.loc)
            requests.append(
                self._request(
                    job,
                    child.loc,
                    "feed",
                    self.parse_source,
                    self.child_failed,
                    top=False,
                    depth=depth + 1,
                )
            )
        return requests

    def source_failed(self, failure: Failure) -> None:
        job: SourceJob = _request_of(failure).cb_kwargs["job"]
        result = self.results[job.name]
        status = failure.value.response.status if isinstance(failure.value, HttpError) else None
        retry_after = _request_of(failure).meta.get("retry_after")
        if retry_after is not None:  # finite and bounded (spiders.crawler.politeness)
            result.retry_after = timedelta(seconds=retry_after)
        result.fail(describe_failure(failure), status)
        logger.warning("source %s failed: %s", job.name, result.error)

    def child_failed(self, failure: Failure) -> None:
        """A child sitemap that cannot be had leaves the poll partial: its validators are
        not kept (a 304 of the index would hide the child for good) and it is retried."""
        request = _request_of(failure)
        job: SourceJob = request.cb_kwargs["job"]
        problem = f"child sitemap {request.url}: {describe_failure(failure)}"
        self.results[job.name].problems.append(problem)
        logger.warning("source %s: %s", job.name, problem)

    # -- entries -------------------------------------------------------------------------

    def _follow(
        self, job: SourceJob, base: str, entries: Iterable[FeedEntry]
    ) -> Iterator[scrapy.Request]:
        """Canonicalise, drop what is stored (one query), ask for the rest's pages, at most
        ``max_articles`` per poll (children of a sitemap index share the one budget)."""
        result = self.results[job.name]
        targets: dict[str, tuple[str, FeedEntry]] = {}
        for entry in entries:
            target = decode_google_news_link(entry.link) or entry.link
            try:
                url = canonical_url(target, base=base)
            except ValueError:
                result.skip(f"unusable link {entry.link[:80]!r}")
                continue
            if max(len(url), len(target)) > MAX_URL_LENGTH:
                # Scrapy would drop the request silently and the poll would never settle.
                result.skip(f"link longer than {MAX_URL_LENGTH} characters: {url[:80]}...")
                continue
            if url not in targets and url not in self._asked:
                targets[url] = (target, entry)
        known = self.known_urls(list(targets))
        result.known += len(known)
        fresh = [(url, t) for url, t in targets.items() if url not in known]
        fresh.sort(key=lambda item: item[1][1].published or datetime.min, reverse=True)
        result.entry_times.extend(e.published for _, (_, e) in targets.items() if e.published)
        room = max(0, self.max_articles - result.followed_before - result.followed)
        if len(fresh) > room:
            logger.info(
                "source %s: following the newest %d of %d new entries",
                job.name,
                room,
                len(fresh),
            )
            fresh = fresh[:room]
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

    async def parse_article(
        self, response: Response, job: SourceJob, entry: FeedEntry, canonical: str
    ) -> AsyncIterator[ArticleItem]:
        try:
            page = page_to_extract(response, job, entry)
            if isinstance(page, str):
                item = fallback_item(job, entry, canonical, page, self.clock)
            else:
                extracted = await self.extraction.extract(page)
                item = article_item(response, job, entry, canonical, self.clock, extracted)
        except Exception as exc:  # a hostile page: the feed's text stands in, as on a 404
            why = f"{type(exc).__name__}: {exc}"
            item = fallback_item(job, entry, canonical, why, self.clock)
        self.results[job.name].settled += 1
        yield item

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        kwargs = _request_of(failure).cb_kwargs
        self.results[kwargs["job"].name].settled += 1
        job, entry, canonical = kwargs["job"], kwargs["entry"], kwargs["canonical"]
        yield fallback_item(job, entry, canonical, describe_failure(failure), self.clock)


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
