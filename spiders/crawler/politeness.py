"""Politeness: ``Retry-After`` on 429/503 is honoured, not hammered.

For a feed or sitemap request the answer is recorded (``request.meta["retry_after"]``)
and handed to the spider's errback, which records it on the source so the source is
not polled again before then. For an article page a short ``Retry-After`` (up to
``MEDIAWATCH_MAX_RETRY_AFTER`` seconds) is waited out once, then the page is asked for
again; a long one gives up at once (the spider falls back to the feed's text).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from clock.moments import retry_after_seconds, utcnow

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER_SETTING = "MEDIAWATCH_MAX_RETRY_AFTER"
RETRY_AFTER_STATUSES = frozenset({429, 503})
ROLE = "mediawatch_role"
"""Request meta key: ``feed`` (a source document) or ``article`` (a page to extract)."""


class RetryAfterMiddleware:
    """Downloader middleware (placed before Scrapy's RetryMiddleware in response order)."""

    def __init__(self, max_wait: float) -> None:
        self.max_wait = max_wait

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getfloat(MAX_RETRY_AFTER_SETTING, 30.0))

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if response.status not in RETRY_AFTER_STATUSES:
            return response
        delay = retry_after_seconds(response.headers.get("Retry-After"), utcnow())
        if delay is None:
            return response  # plain retry policy applies
        request.meta["retry_after"] = delay
        request.meta["dont_retry"] = True
        if request.meta.get(ROLE) != "article":
            logger.info("%s answered %s, retry after %.0fs", request.url, response.status, delay)
            return response
        if delay > self.max_wait or request.meta.get("retried_after"):
            logger.info(
                "%s answered %s with Retry-After %.0fs: giving up on the page",
                request.url,
                response.status,
                delay,
            )
            return response
        from twisted.internet import reactor

        await maybe_deferred_to_future(deferLater(reactor, delay, lambda: None))
        logger.debug("retrying %s after %.1fs", request.url, delay)
        retry = request.replace(dont_filter=True)
        retry.meta["retried_after"] = True
        retry.meta.pop("dont_retry", None)
        return retry
