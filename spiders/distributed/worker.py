"""``mediawatch worker``: a long-running crawl worker of distributed mode.

Any number of workers, on any machine, share one frontier in Redis
(``spiders.distributed.frontier``) and one PostgreSQL database:

1. the spider pops *tickets* (claimed source polls) from ``{prefix}:sources`` when it has
   room (scrapy-redis ``RedisMixin``), opens the poll in the ledger, and asks for the
   feed: that request, and every request it leads to (child sitemaps, article pages),
   goes through the scrapy-redis scheduler into the shared queue ``{prefix}:requests``,
   so any worker may fetch any page; article pages pass the shared duplicate filter;
2. each step reports to the poll ledger (``spiders.distributed.ledger``); articles reach the shared
   store (``spiders.distributed.shared_store``), which commits them and then settles their pages;
3. whichever worker settles a poll's last page records the poll (``record_poll``):
   validators, next due time (``spiders.polling.policy``), a ``Poll`` row.

With nothing to do a worker idles (scrapy-redis keeps the spider open and looks for
tickets again every second). SIGTERM or Ctrl-C: no new requests are taken, the ones in
flight finish and are stored and settled, and the worker exits 0; requests still in the
shared queue are left for the other workers. After ``kill -9`` the requests it had taken
are lost with it; their polls never complete, and their sources are due again when the
lease ends.
"""

from __future__ import annotations

import logging
import random
import warnings
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import scrapy
from scrapy import signals
from scrapy_redis.spiders import RedisMixin
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from twisted.python.failure import Failure

from clock.moments import utcnow
from config.models import Config, CrawlConfig
from errors import StorageError
from logs.secrets import redact_url
from spiders.crawler.jobs import SourceJob
from spiders.crawler.news import NewsSpider
from spiders.distributed.frontier import (
    DUPEFILTER_TTL_SETTING,
    REMEMBER,
    SERIALIZER,
    FrontierKeys,
    Ticket,
    default_prefix,
)
from spiders.distributed.ledger import PollLedger
from spiders.distributed.shared_store import PolledArticle, SharedArticleStore, SharedStoreWiring
from spiders.polling.polls import PollResult, record_poll
from storage.dbclock import DatabaseClock
from storage.engine import session_factory, transaction
from storage.models import Source

logger = logging.getLogger(__name__)

POLL = "mediawatch_poll"
"""Request meta key: the id of the poll a request belongs to."""
CLAIMED = "mediawatch_claimed"
"""Request meta key: when its poll was claimed (ISO, naive UTC on the database's clock)."""
TOP_UP_SECONDS = 1.0


def frontier_keys(config: Config) -> FrontierKeys:
    if config.distributed is None:
        raise StorageError("distributed mode needs a [cluster] section with redis_url")
    return FrontierKeys(config.distributed.key_prefix or default_prefix(config.storage.url))


def connect_redis(url: str) -> Any:
    """A Redis client that answered a PING, or a one-line ``StorageError``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise StorageError(f"Redis not reachable at {redact_url(url)}: {exc}") from None
    return client


@dataclass
class PollRecorder:
    """Settles pages in the ledger and records each poll once its last page settled."""

    ledger: PollLedger
    sessions: sessionmaker[Session]
    crawl: CrawlConfig
    """Its interval bounds are the policy's."""
    clock: Callable[[], datetime] = utcnow
    jitter: Callable[[], float] = random.random
    """The policy's jitter draw, one a poll."""
    recorded: int = field(default=0, init=False)

    def settle(self, poll_id: str, pages: int, new: int = 0, duplicates: int = 0) -> None:
        counts = {"new": new, "duplicates": duplicates}
        self.finished(poll_id, self.ledger.apply(poll_id, -pages, counts=counts))

    def finished(self, poll_id: str, outstanding: int | None) -> None:
        if outstanding == 0:
            self.record(poll_id)

    def record(self, poll_id: str) -> None:
        result = self.ledger.result(poll_id)
        if result is None:
            return
        now = self.clock()
        result.finished_at = now
        try:
            with transaction(self.sessions) as session:
                row = session.scalars(select(Source).where(Source.name == result.source)).first()
                if row is None:
                    logger.warning("source %s: gone from the database; poll dropped", result.source)
                else:
                    record_poll(session, row, result, now, self.crawl, jitter=self.jitter())
        except Exception:
            logger.exception("source %s: recording poll %s failed", result.source, poll_id)
            return  # the source stays claimed; it is due again when the lease ends
        self.ledger.close(poll_id)
        self.recorded += 1


class _Scratch(dict[str, PollResult]):
    """``NewsSpider.results`` in a worker: a fresh ``PollResult`` per step, on demand."""

    def __missing__(self, name: str) -> PollResult:
        self[name] = PollResult(name, datetime.min)
        return self[name]


class DistributedSpider(RedisMixin, NewsSpider):
    """``NewsSpider`` fed by tickets from Redis, reporting each step to the poll ledger."""

    def __init__(self, recorder: PollRecorder, lease: timedelta, **kwargs: Any) -> None:
        super().__init__(jobs=(), **kwargs)
        self.recorder = recorder
        self.lease = lease
        self.results = _Scratch()
        self._poll_id = ""
        self._claimed_at = ""
        self._top_up: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> DistributedSpider:
        spider: DistributedSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        crawler.signals.connect(spider.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        return spider

    async def start(self) -> Any:
        for request in self.next_requests():
            yield request

    def opened(self) -> None:
        from twisted.internet.task import LoopingCall

        self._top_up = LoopingCall(self.top_up)
        self._top_up.start(TOP_UP_SECONDS, now=False)
        logger.info("worker ready: taking tickets from %s", self.redis_key)

    def closed(self, reason: str) -> None:
        if self._top_up is not None and self._top_up.running:
            self._top_up.stop()

    def top_up(self) -> None:
        """Take more tickets while this worker has room and the shared queue runs low."""
        engine = self.crawler.engine
        if engine is None or not engine.running or self.server is None:
            return
        room = self.redis_batch_size or 16
        if len(engine.downloader.active) >= room:
            return
        if self.server.llen(self.crawler.settings.get("SCHEDULER_QUEUE_KEY")) >= room:
            return
        self.schedule_next_requests()

    # -- tickets -------------------------------------------------------------------------

    def make_request_from_data(self, data: bytes) -> list[scrapy.Request]:
        try:
            ticket = Ticket.from_json(data)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("dropping an unreadable ticket (%s): %r", exc, data[:200])
            return []
        now = self.clock()
        if ticket.stale(now, self.lease):
            logger.warning(
                "source %s: ticket claimed %s ago, past the lease; dropped (claimed again)",
                ticket.job.name,
                now - ticket.claimed_at,
            )
            return []
        self.recorder.ledger.open(ticket, now)
        self._poll_id, self._claimed_at = ticket.poll_id, ticket.claimed_at.isoformat()
        return [self.feed_request(ticket.job)]

    def _request(self, job: SourceJob, url: str, role: str, *args: Any, **kwargs: Any) -> Any:
        request = super()._request(job, url, role, *args, **kwargs)
        request.meta[POLL] = self._poll_id
        request.meta[CLAIMED] = self._claimed_at
        if role == "article":  # pages may be shared between polls; feeds never are
            request = request.replace(dont_filter=False)
            request.meta[REMEMBER] = self._remember()
        return request

    def _remember(self) -> float:
        """Seconds a page request of this poll keeps others for the page out: until half
        the poll's lease has passed (``spiders.distributed.frontier``)."""
        if not self._claimed_at:
            return self.lease.total_seconds() / 2
        age = self.clock() - datetime.fromisoformat(self._claimed_at)
        return max(0.0, (self.lease / 2 - age).total_seconds())

    # -- steps ---------------------------------------------------------------------------

    def parse_source(self, response: Any, job: SourceJob, top: bool = True, depth: int = 0) -> Any:
        return self._step(
            response.meta,
            job,
            top,
            lambda: NewsSpider.parse_source(self, response, job, top, depth),
        )

    def source_failed(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        job = request.cb_kwargs["job"]
        return self._step(
            request.meta, job, True, lambda: _none(NewsSpider.source_failed, self, failure)
        )

    def child_failed(self, failure: Failure) -> Any:
        request = failure.request  # type: ignore[attr-defined]
        job = request.cb_kwargs["job"]
        return self._step(
            request.meta, job, False, lambda: _none(NewsSpider.child_failed, self, failure)
        )

    async def parse_article(  # type: ignore[override]  # items carry their poll
        self, response: Any, job: SourceJob, entry: Any, canonical: str
    ) -> AsyncIterator[PolledArticle]:
        poll_id = response.meta[POLL]
        try:
            items = [
                item
                async for item in NewsSpider.parse_article(self, response, job, entry, canonical)
            ]
        except Exception:
            logger.exception("poll %s: a page failed in the spider", poll_id)
            items = []
        for polled in self._polled(poll_id, items):
            yield polled

    def article_failed(self, failure: Failure) -> list[PolledArticle]:  # type: ignore[override]
        poll_id = failure.request.meta[POLL]  # type: ignore[attr-defined]
        return self._pages(poll_id, lambda: NewsSpider.article_failed(self, failure))

    def request_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        """Filtered as a duplicate: another poll's request for the page is in flight."""
        poll_id = request.meta.get(POLL)
        if poll_id:
            self.recorder.settle(poll_id, 1)

    def _step(
        self, meta: dict[str, Any], job: SourceJob, top: bool, run: Callable[[], Iterable[Any]]
    ) -> list[Any]:
        """Run one feed/sitemap step of ``NewsSpider`` (``meta``: its request's, which
        names the poll), report what it found and spawned."""
        poll_id = meta[POLL]
        found = self.results[job.name] = PollResult(job.name, self.clock())
        found.followed_before = self.recorder.ledger.followed(poll_id)  # one budget a poll
        self._asked.clear()  # across steps and workers, the duplicate filter does this
        self._poll_id, self._claimed_at = poll_id, meta.get(CLAIMED, "")
        try:
            spawned = list(run())
        except Exception as exc:
            logger.exception("source %s: poll %s failed in the spider", job.name, poll_id)
            if top:
                found.fail(f"{type(exc).__name__}: {exc}")
            spawned = []
        self.recorder.finished(
            poll_id, self.recorder.ledger.report(poll_id, found, top=top, spawned=len(spawned))
        )
        # A Telegram channel's page holds its posts: they are articles already, and each
        # settles its share of the poll when stored, as a followed page's article does.
        return [
            output if isinstance(output, scrapy.Request) else PolledArticle(output, poll_id)
            for output in spawned
        ]

    def _pages(self, poll_id: str, run: Callable[[], Iterable[Any]]) -> list[PolledArticle]:
        try:
            items = list(run())
        except Exception:
            logger.exception("poll %s: a page failed in the spider", poll_id)
            items = []
        return self._polled(poll_id, items)

    def _polled(self, poll_id: str, items: list[Any]) -> list[PolledArticle]:
        """Items of one page of the poll; a page that gave none settles its share now."""
        if not items:
            self.recorder.settle(poll_id, 1)
        return [PolledArticle(item, poll_id) for item in items]


def _none(errback: Callable[..., None], *args: Any) -> tuple[()]:
    """Run an errback that spawns nothing."""
    errback(*args)
    return ()


def worker_settings(config: Config, keys: FrontierKeys) -> dict[str, Any]:
    """``crawler_settings`` plus the scrapy-redis scheduler, queue and duplicate filter."""
    from spiders.crawler.settings import crawler_settings

    assert config.distributed is not None
    settings = crawler_settings(config.crawl)
    settings.update(
        {
            "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
            "SCHEDULER_PERSIST": True,  # the queue and fingerprints outlive any one worker
            "SCHEDULER_QUEUE_CLASS": "spiders.distributed.frontier.DataOnlyQueue",
            "SCHEDULER_SERIALIZER": SERIALIZER,  # JSON data: reading Redis runs no code
            "SCHEDULER_QUEUE_KEY": keys.requests,
            "SCHEDULER_DUPEFILTER_KEY": keys.fingerprints,
            "DUPEFILTER_CLASS": "spiders.distributed.frontier.LeasedDupeFilter",
            # Forgotten before the source can be claimed again (see spiders.distributed.frontier).
            DUPEFILTER_TTL_SETTING: config.distributed.lease.total_seconds() / 2,
            "REDIS_URL": config.distributed.redis_url,
            "REDIS_START_URLS_KEY": keys.sources,
            "ITEM_PIPELINES": {"spiders.distributed.shared_store.DistributedStorePipeline": 300},
        }
    )
    return settings


def run_worker(
    config: Config,
    engine: Engine,
    *,
    clock: Callable[[], datetime] | None = None,
    jitter: Callable[[], float] = random.random,
) -> int:
    """Consume the frontier until SIGTERM/SIGINT; returns the number of polls recorded.
    ``clock`` is by default the database's: a ticket's lease was stamped by the leader, on
    another machine. ``jitter`` draws the policy's jitter, one a poll."""
    from spiders.crawler.process import prepare_spider

    if engine.dialect.name != "postgresql":
        raise StorageError("a worker needs PostgreSQL storage ([storage] url)")
    clock = clock or DatabaseClock(engine)
    assert config.distributed is not None
    keys = frontier_keys(config)
    server = connect_redis(config.distributed.redis_url)
    sessions = session_factory(engine)
    ledger = PollLedger(server, keys, ttl=config.distributed.lease * 2)
    recorder = PollRecorder(ledger, sessions, config.crawl, clock, jitter)
    # A batch the database refuses must raise: its polls then stay unsettled (and due
    # again after the lease) instead of being recorded as complete.
    store = SharedArticleStore(sessions, config.watchlist(), clock, isolate_failures=False)

    settings = worker_settings(config, keys)
    settings["MEDIAWATCH_SHARED_STORE"] = SharedStoreWiring(engine, store, recorder.settle)
    logging.getLogger(DistributedSpider.name).setLevel(logging.WARNING)  # a line per ticket
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="scrapy_redis")
    prepared = prepare_spider(
        settings,
        DistributedSpider,
        config.crawl,
        sessions,
        clock,
        recorder=recorder,
        lease=config.distributed.lease,
    )
    logger.info("mediawatch worker started (frontier %s)", keys.prefix)
    prepared.process.start()
    logger.info("mediawatch worker stopped: %d polls recorded", recorder.recorded)
    return recorder.recorded
