"""The news spider asked to fill in the past instead of polling its sources: GDELT's listed
URLs, a Telegram channel's older pages and a sitemap index's dated children, each page
going through the crawl's own fetching, extraction and store (dedupe, match).

Every request is the crawl's (SSRF guard, size caps, robots.txt, redirects checked); a
walk's own pages (channel pages, sitemap documents) go one at a time per host, spaced by
``[backfill] page_interval`` (their download slot, ``walk_slots``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from spiders.backfill.pipeline import PageDone
from spiders.backfill.progress import Progress, Step, silent
from spiders.backfill.spans import channel_step, first_move, next_move, wanted_child, wanted_entries
from spiders.backfill.walks import Walk
from spiders.crawler.article_pages import post_item
from spiders.crawler.items import ArticleItem
from spiders.crawler.jobs import SourceJob
from spiders.crawler.listed import refuse_child, sitemap_entry
from spiders.crawler.news import NewsSpider, describe_failure
from spiders.parsing.canonical import canonical_url
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.sitemaps import parse_sitemap
from spiders.parsing.telegram import parse_channel_page

logger = logging.getLogger(__name__)

MAX_PAGES = 20_000
"""Channel pages per walk and run: a channel that pages on forever stops here."""

Resume = Callable[[Walk, datetime], int | None]
"""The id of the oldest stored post of a walk's channel at or after a moment."""


def walk_slot(url: str) -> str:
    return "backfill " + (urlsplit(url).hostname or "").lower()


def walk_slots(walks: Sequence[Walk], interval: timedelta) -> dict[str, dict[str, Any]]:
    """Scrapy's ``DOWNLOAD_SLOTS``: one request at a time per walked host, ``interval`` apart."""
    hosts = {walk_slot(walk.job.url) for walk in walks} | {
        f"backfill {host}" for walk in walks for host in walk.job.sitemap_hosts
    }
    seconds = interval.total_seconds()
    return {slot: {"concurrency": 1, "delay": seconds, "jitter": 0} for slot in hosts}


class ListedSpider(NewsSpider):
    """Each job's ``entries`` followed as if its feed had just listed them (what is stored
    already is skipped, as on a poll); no source document is requested."""

    name = "mediawatch-backfill"

    def __init__(self, entries: Mapping[str, Sequence[FeedEntry]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries = entries

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for job in self.jobs:
            for request in self._follow(job, job.url, self.entries.get(job.name, ())):
                yield request


class BackfillSpider(ListedSpider):
    """``ListedSpider`` plus the walks of channels and sitemaps."""

    def __init__(
        self,
        cutoff: datetime,
        walks: Sequence[Walk] = (),
        resume: Resume | None = None,
        progress: Progress = silent,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cutoff = cutoff
        self.walks = list(walks)
        self.resume = resume
        self.progress = progress
        self._posts: set[str] = set()

    async def parse_article(
        self, response: Response, job: SourceJob, entry: FeedEntry, canonical: str
    ) -> AsyncIterator[ArticleItem]:
        # The crawl's callback may be a generator or an async one (extraction off the reactor).
        produced: Any = super().parse_article(response, job, entry, canonical)
        if hasattr(produced, "__aiter__"):
            async for item in produced:
                yield self._dated(item, entry)
        else:
            for item in produced:
                yield self._dated(item, entry)

    def article_failed(self, failure: Failure) -> Iterator[ArticleItem]:
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        for item in super().article_failed(failure):
            yield self._dated(item, request.cb_kwargs["entry"])

    def _dated(self, item: ArticleItem, entry: FeedEntry) -> ArticleItem:
        """A page that claims no date, or one after the ``cutoff`` (what the detector still
        judges), is dated by its listing (always before it): the past never looks new."""
        if item.published_at is None or item.published_at >= self.cutoff:
            return replace(item, published_at=entry.published)
        return item

    async def start(self) -> AsyncIterator[scrapy.Request]:
        async for request in super().start():
            yield request
        for walk in self.walks:
            if walk.job.kind == "sitemap":
                yield self._walk_request(walk, walk.job.url, self.walk_sitemap, depth=0)
                continue
            move = first_move(walk.span, walk.gaps)
            first = self._channel_request(walk, None, move.jump_to)
            if first is not None:
                yield first

    def _walk_request(
        self, walk: Walk, url: str, callback: Callable[..., Any], **cb_kwargs: Any
    ) -> scrapy.Request:
        request = self._request(
            walk.job, url, "feed", callback, self.walk_failed, walk=walk, **cb_kwargs
        )
        request.meta["download_slot"] = walk_slot(url)
        request.meta["autothrottle_dont_adjust_delay"] = True
        return request

    def walk_failed(self, failure: Failure) -> None:
        request: scrapy.Request = failure.request  # type: ignore[attr-defined]
        walk: Walk = request.cb_kwargs["walk"]
        self._fail(walk, f"{request.url}: {describe_failure(failure)}")

    def _fail(self, walk: Walk, error: str) -> None:
        walk.errors.append(error)
        logger.warning("backfill %s: %s", walk.job.name, error)
        self._tell(walk, "failed", error)

    def _tell(self, walk: Walk, what: str, error: str | None = None) -> None:
        self.progress(Step(walk.job.name, what, walk.pages, walk.found, walk.reached, error))

    # -- Telegram --------------------------------------------------------------------------

    def _channel_request(
        self, walk: Walk, before: int | None, jump_to: datetime | None
    ) -> scrapy.Request | None:
        """The request for the page before ``before`` (None: the newest page), or, to go
        past a finished stretch, before the oldest stored post from ``jump_to`` on."""
        if jump_to is not None:
            resumed = self.resume(walk, jump_to) if self.resume else None
            if resumed is not None:
                before, walk.upper = resumed, jump_to
            elif before is None and walk.pages:
                return None  # nothing to resume from, and the page gave no older one
        if before is not None and walk.last_before is not None and before >= walk.last_before:
            self._fail(walk, f"the channel paged forward (before={before}); stopped")
            return None
        if walk.pages >= MAX_PAGES:
            self._fail(walk, f"more than {MAX_PAGES} pages; run again to go on")
            return None
        walk.last_before = before if before is not None else walk.last_before
        url = walk.job.url
        if before is not None:
            parts = urlsplit(url)
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, f"before={before}", ""))
        return self._walk_request(walk, url, self.walk_channel)

    def walk_channel(
        self, response: Response, job: SourceJob, walk: Walk
    ) -> Iterator[ArticleItem | PageDone | scrapy.Request]:
        """One page: its posts within the gaps stored, then the page recorded, then the
        next older page asked (in that order: see ``spiders.backfill.pipeline``)."""
        walk.pages += 1
        page = parse_channel_page(response.body, job.url)  # posts on the configured host
        if page.error:
            self._fail(walk, f"{response.url}: {page.error}")
            return
        step = channel_step(page.posts, page.before, walk.upper, walk.span, walk.gaps, self.clock())
        posts = {canonical_url(post.url): post for post in step.keep}
        known = self.known_urls(list(posts))
        fresh = [url for url in posts if url not in known and url not in self._posts]
        walk.skipped += step.skipped + len(posts) - len(fresh)
        walk.found += len(fresh)
        self._posts.update(fresh)
        for url in fresh:
            yield post_item(job, posts[url], url, page.title, self.clock)
        if step.covered is not None:
            yield PageDone(job.name, walk.marker, step.covered, len(fresh))
        walk.reached = max(step.lower, walk.span.start)
        walk.upper = step.lower
        walk.ended = step.ended
        self._tell(walk, f"page {walk.pages}" + (" (the channel's first)" if step.ended else ""))
        move = next_move(step.lower, step.ended, walk.gaps)
        if move.stop:
            return
        oldest = min((post.id for post in page.posts), default=None)
        request = self._channel_request(walk, page.before or oldest, move.jump_to)
        if request is not None:
            yield request

    # -- sitemaps --------------------------------------------------------------------------

    def walk_sitemap(
        self, response: Response, job: SourceJob, walk: Walk, depth: int
    ) -> Iterator[scrapy.Request]:
        """An index: its children that may hold pages still to do; a urlset: its entries
        dated within the gaps, followed as the crawl follows a sitemap's."""
        walk.pages += 1
        sitemap = parse_sitemap(
            response.body, response.url, max_size=self.settings.getint("DOWNLOAD_MAXSIZE")
        )
        if sitemap.error:
            self._fail(walk, f"{response.url}: {sitemap.error}")
            return
        walk.skipped += len(sitemap.skipped)
        name = urlsplit(response.url).path.rsplit("/", 1)[-1] or response.url
        if sitemap.kind == "index":
            for child in sitemap.entries:
                refused = refuse_child(job, child.loc, depth + 1)
                if not wanted_child(child, walk.gaps):
                    walk.skipped += 1
                elif refused:
                    self._fail(walk, f"not following {child.loc}: {refused}")
                else:
                    yield self._walk_request(walk, child.loc, self.walk_sitemap, depth=depth + 1)
            self._tell(walk, name)
            return
        kept, left = wanted_entries(sitemap.entries, walk.gaps)
        walk.skipped += left
        walk.found += len(kept)
        dates = [entry.published for entry in kept if entry.published is not None]
        walk.reached = min([*dates, walk.reached] if walk.reached else dates, default=None)
        self._tell(walk, name)
        yield from self._follow(job, response.url, [sitemap_entry(entry) for entry in kept])
