"""The parts of distributed mode, against the real Redis: tickets and their leases, the
poll ledger, the fingerprint filter, one article budget per poll, the leader lock's
takeover bound, and cluster mode's need for PostgreSQL.

A test using Redis skips with a reason when it is not reachable, unless
``MEDIAWATCH_REQUIRE_REDIS=1`` (CI), which fails instead.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.redis_server import REDIS_SERVER, redis_prefix_fixture  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_a_ticket_round_trips_and_goes_stale_after_its_lease() -> None:
    from spiders.crawler.jobs import SourceJob
    from spiders.distributed.frontier import Ticket

    claimed = datetime(2026, 11, 20, 12, 0)
    ticket = Ticket("p1", SourceJob("Rudaw", "https://example.org/rss", etag='"x"'),
                    due_at=claimed - timedelta(seconds=5), claimed_at=claimed)  # fmt: skip
    assert Ticket.from_json(ticket.to_json()) == ticket
    assert not ticket.stale(claimed + timedelta(minutes=9), timedelta(minutes=10))
    assert ticket.stale(claimed + timedelta(minutes=10), timedelta(minutes=10))


@pytest.mark.parametrize("seconds", [10, 30, 120])
def test_a_dead_leaders_lock_is_free_within_the_takeover_bound(seconds: int) -> None:
    from scheduler.lock import keepalive_settings, retry_seconds

    settings = keepalive_settings(timedelta(seconds=seconds))
    noticed = settings["tcp_keepalives_idle"] + 3 * settings["tcp_keepalives_interval"]
    assert noticed + retry_seconds(timedelta(seconds=seconds)) <= seconds
    assert settings["idle_session_timeout"] == 0


def test_the_ledger_completes_a_poll_exactly_once(redis_prefix: str) -> None:
    import redis

    from spiders.crawler.jobs import SourceJob
    from spiders.distributed.frontier import FrontierKeys, Ticket
    from spiders.distributed.ledger import PollLedger
    from spiders.polling.polls import PollResult

    now = datetime(2026, 11, 20, 12, 0)
    ledger = PollLedger(redis.Redis.from_url(REDIS_SERVER), FrontierKeys(redis_prefix),
                        timedelta(minutes=1))  # fmt: skip
    ledger.open(Ticket("p1", SourceJob("Wire", "http://x/rss"), now, now), now)
    found = PollResult("Wire", now)
    found.succeed(200)
    found.etag, found.entries, found.entry_times = '"v2"', 3, [now]
    assert ledger.report("p1", found, top=True, spawned=2) == 2  # two pages outstanding
    assert ledger.apply("p1", -1, counts={"new": 1}) == 1
    assert ledger.apply("p1", -1, counts={"duplicates": 1}) == 0  # the one that records
    result = ledger.result("p1")
    assert result is not None and result.answered and result.status == "ok"
    assert (result.etag, result.entries, result.new, result.duplicates) == ('"v2"', 3, 1, 1)
    assert result.entry_times == [now]
    ledger.close("p1")
    assert ledger.apply("p1", -1) is None and ledger.result("p1") is None  # gone: no-op


def test_article_fingerprints_expire_and_redirect_hops_are_never_filtered(
    redis_prefix: str,
) -> None:
    import redis
    import scrapy

    from spiders.distributed.frontier import LeasedDupeFilter

    dupes = LeasedDupeFilter(redis.Redis.from_url(REDIS_SERVER), f"{redis_prefix}:fp", ttl=1.0)
    page = scrapy.Request("http://example.org/a.html")
    assert not dupes.request_seen(page)
    assert dupes.request_seen(page), "a second poll's request waits for the first"
    hop = page.replace(meta={"redirect_times": 1})
    assert not dupes.request_seen(hop), "a redirect loop must reach the errback"
    time.sleep(1.1)
    assert not dupes.request_seen(page), "forgotten before the source is due again"


def test_a_page_a_slow_poll_asked_for_late_is_asked_for_again_after_the_lease(
    redis_prefix: str,
) -> None:
    """A poll asks for a page late in its lease (a long sitemap walk) and its worker dies
    fetching it. The source's next poll, after the lease, must fetch the page: when the
    fingerprint was remembered for half a lease from the request, that poll's request was
    dropped as a duplicate of the dead one, the poll completed, and the page was lost."""
    import redis
    import scrapy

    from spiders.crawler.jobs import SourceJob
    from spiders.distributed.frontier import LeasedDupeFilter
    from spiders.distributed.worker import DistributedSpider

    lease = timedelta(minutes=10)
    dupes = LeasedDupeFilter(redis.Redis.from_url(REDIS_SERVER), f"{redis_prefix}:fp", ttl=300)
    claimed = datetime(2026, 11, 30, 8, 0)
    spider = DistributedSpider(
        recorder=None,  # type: ignore[arg-type]  # no poll is recorded here
        lease=lease,
        known_urls=lambda urls: set(),
        now=lambda: claimed,
    )

    def page_request(poll_claimed: datetime, asked: datetime) -> scrapy.Request:
        spider._claimed_at = poll_claimed.isoformat()
        spider.clock = lambda: asked
        job = SourceJob(name="wire", url="http://example.org/feed.xml")
        return spider._request(
            job, "http://example.org/late.html", "article", spider.parse, spider.parse
        )

    # The dead poll asked 6 minutes into its 10-minute lease; the next poll is claimed
    # when the lease ends and asks a few seconds later (seconds later on Redis' clock too).
    late = page_request(claimed, claimed + timedelta(minutes=6))
    assert not dupes.request_seen(late)
    again = page_request(claimed + lease, claimed + lease + timedelta(seconds=5))
    assert not dupes.request_seen(again), "the dead poll's request must not hide the page"
    other_source = page_request(claimed + lease, claimed + lease + timedelta(seconds=6))
    assert dupes.request_seen(other_source), "a page asked for twice at once is fetched once"


def test_cluster_mode_needs_postgresql(tmp_path: Path) -> None:
    from config.load import load_config
    from errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[cluster]\nredis_url = "redis://127.0.0.1:6379/0"\n')
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        load_config(path, environ={})


def test_steps_of_one_poll_share_one_article_budget(redis_prefix: str) -> None:
    """Children of a sitemap index are steps of their own in distributed mode, maybe on
    several workers; they still spend one max_articles_per_poll between them."""
    import redis

    from spiders.crawler.jobs import SourceJob
    from spiders.crawler.news import NewsSpider
    from spiders.distributed.frontier import FrontierKeys, Ticket
    from spiders.distributed.ledger import PollLedger
    from spiders.parsing.feeds import FeedEntry
    from spiders.polling.polls import PollResult

    now = datetime(2026, 11, 20, 12, 0)
    job = SourceJob("Index", "http://x.example/index.xml", kind="sitemap")
    ledger = PollLedger(redis.Redis.from_url(REDIS_SERVER), FrontierKeys(redis_prefix),
                        timedelta(minutes=1))  # fmt: skip
    ledger.open(Ticket("p1", job, now, now), now)
    spider = NewsSpider(jobs=[job], known_urls=lambda urls: set(), now=lambda: now, max_articles=10)
    asked = []
    for child in range(3):  # three children of 6 new pages each, one step each
        step = spider.results[job.name] = PollResult(job.name, now)
        step.followed_before = ledger.followed("p1")
        entries = [FeedEntry(f"http://x.example/{child}/{n}.html") for n in range(6)]
        requests = list(spider._follow(job, job.url, entries))
        ledger.report("p1", step, top=False, spawned=len(requests) + 1)
        asked += requests
    assert len(asked) == 10
    assert ledger.followed("p1") == 10
