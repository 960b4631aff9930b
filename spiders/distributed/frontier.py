"""The shared crawl frontier of distributed mode, in Redis: what is where, and the tickets.

Keys (``prefix`` is ``[cluster] key_prefix``, by default one per database):

- ``{prefix}:sources``: a list of *tickets*, one per claimed source poll (JSON). The
  leader's tick pushes them (``scheduler.queue``); a worker's spider pops them
  (scrapy-redis ``RedisMixin``, the spider's ``redis_key``).
- ``{prefix}:requests``: the scrapy-redis scheduler queue every worker pulls from: feed
  polls, child sitemaps and article pages alike.
- ``{prefix}:fingerprints``: the shared duplicate filter (``LeasedDupeFilter``).
- ``{prefix}:poll:{id}`` and ``{prefix}:poll:{id}:times``: what one poll found so far
  (``spiders.distributed.ledger``).

A ticket carries everything a worker needs to poll the source (its ``SourceJob``: URL,
kind, validators, manners), a random poll id, and when the source was due and claimed.
A ticket older than the lease is *stale*: the leader has claimed the source again (or
will at its next tick), so a worker drops it instead of polling twice.

The duplicate filter: feed and sitemap requests are never filtered (``dont_filter``: a
feed is polled again and again); article pages are, until half a lease has passed since
their poll was claimed (``REMEMBER``). Two sources listing the same page at about the same
time fetch it once. The fingerprint is forgotten before the poll's lease ends, so a page
whose fetch died with a worker is asked for again when its source (whose poll was never
recorded) is claimed and polled again after the lease. Counted from the request instead,
a page a slow poll asked for late was still remembered then: the new poll's request was
dropped as a duplicate of the dead one, the poll completed, and the page was never
stored. Pages already stored are skipped by ``known_urls`` before any request. Redirect hops are
never filtered: their first request passed the filter, and a redirect loop must reach
the spider's errback (which stores the feed's text instead) rather than vanish.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from scrapy_redis.connection import get_redis_from_settings
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import FifoQueue

from spiders.crawler.jobs import SourceJob
from spiders.distributed import request_json

logger = logging.getLogger(__name__)

SERIALIZER = "spiders.distributed.request_json"
"""``SCHEDULER_SERIALIZER``: requests travel through Redis as JSON data, never pickles."""
DUPEFILTER_TTL_SETTING = "MEDIAWATCH_DUPEFILTER_TTL"
"""Seconds an article fingerprint keeps a second request for the page out (the lease)."""


def default_prefix(storage_url: str) -> str:
    """``mediawatch:`` + a short hash of the database URL: one frontier per database."""
    from sqlalchemy.engine import make_url

    from storage.engine import normalise_url

    rendered = make_url(normalise_url(storage_url)).render_as_string(hide_password=True)
    return "mediawatch:" + hashlib.sha256(rendered.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class FrontierKeys:
    prefix: str

    @property
    def sources(self) -> str:
        return f"{self.prefix}:sources"

    @property
    def requests(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def fingerprints(self) -> str:
        return f"{self.prefix}:fingerprints"

    def poll(self, poll_id: str) -> str:
        return f"{self.prefix}:poll:{poll_id}"

    def poll_times(self, poll_id: str) -> str:
        return f"{self.prefix}:poll:{poll_id}:times"

    @property
    def pattern(self) -> str:
        """Every key of this frontier, for ``SCAN`` (tests clean up with it)."""
        return f"{self.prefix}:*"


@dataclass(frozen=True)
class Ticket:
    """One claimed poll of one source, as it travels through Redis."""

    poll_id: str
    job: SourceJob
    due_at: datetime
    claimed_at: datetime

    def to_json(self) -> str:
        return json.dumps(
            {
                "poll_id": self.poll_id,
                "job": asdict(self.job),
                "due_at": self.due_at.isoformat(),
                "claimed_at": self.claimed_at.isoformat(),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Ticket:
        raw = json.loads(data)
        return cls(
            poll_id=str(raw["poll_id"]),
            # JSON has no tuples: the job's tuple fields come back as lists.
            job=SourceJob(**_tuples(raw["job"])),
            due_at=datetime.fromisoformat(raw["due_at"]),
            claimed_at=datetime.fromisoformat(raw["claimed_at"]),
        )

    def stale(self, now: datetime, lease: timedelta) -> bool:
        """Past its lease: the source has been (or is about to be) claimed again."""
        return now - self.claimed_at >= lease


def _tuples(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: tuple(v) if isinstance(v, list) else v for name, v in fields.items()}


# KEYS[1] the fingerprint set (a sorted set scored by when each is forgotten); ARGV:
# fingerprint, seconds to remember it. Seen = present and not yet forgotten; otherwise
# stamped (when there is anything to remember). Forgotten ones are trimmed. "Now" is the
# Redis server's clock, the one every worker shares (not each worker's own).
_SEEN_SCRIPT = """
local forget_at = redis.call('ZSCORE', KEYS[1], ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
if forget_at and tonumber(forget_at) > now then return 1 end
local remember = tonumber(ARGV[2])
if remember > 0 then redis.call('ZADD', KEYS[1], now + remember, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return 0
"""
REMEMBER = "mediawatch_remember"
"""Request meta: seconds its fingerprint keeps other requests for the page out (the rest
of the first half of its poll's lease); without it, the filter's ``ttl``."""


class LeasedDupeFilter(RFPDupeFilter):
    """scrapy-redis's shared duplicate filter, with fingerprints that expire after
    ``ttl`` seconds (see the module doc), and kept when a worker closes."""

    def __init__(self, server: Any, key: str, debug: bool = False, ttl: float = 600.0) -> None:
        super().__init__(server, key, debug)
        self.ttl = ttl
        self._seen = server.register_script(_SEEN_SCRIPT)

    @classmethod
    def from_spider(cls, spider: Any) -> LeasedDupeFilter:
        settings = spider.settings
        return cls(
            get_redis_from_settings(settings),
            key=settings.get("SCHEDULER_DUPEFILTER_KEY") % {"spider": spider.name},
            debug=settings.getbool("DUPEFILTER_DEBUG"),
            ttl=settings.getfloat(DUPEFILTER_TTL_SETTING, 600.0),
        )

    def request_seen(self, request: Any) -> bool:
        if request.meta.get("redirect_times"):
            return False
        fingerprint = self.request_fingerprint(request)
        remember = max(0.0, float(request.meta.get(REMEMBER, self.ttl)))
        return bool(self._seen(keys=[self.key], args=[fingerprint, remember]))

    def close(self, reason: str = "") -> None:
        """Other workers still use the fingerprints: keep them."""


class DataOnlyQueue(FifoQueue):
    """scrapy-redis's FIFO queue of requests, read with the data-only serializer: an
    entry it cannot read (a pickle, garbage, a refused type) is logged once and
    dropped, and the worker goes on with the next."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        # Whatever the settings say: a pickle must never be read from Redis.
        super().__init__(server, spider, key, request_json)

    def _decode_request(self, encoded_request: bytes) -> Any:
        try:
            return super()._decode_request(encoded_request)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.error(
                "dropped an unreadable request from %s (%s): %r",
                self.key,
                exc,
                encoded_request[:80],
            )
            return None
