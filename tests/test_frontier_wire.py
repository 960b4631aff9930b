"""What travels through the shared Redis queue is data: a request round-trips as JSON
through the worker's real scrapy-redis scheduler, and a pickle someone pushed into the
queue runs nothing, is dropped with one log line, and the worker goes on."""

from __future__ import annotations

import logging
import os
import pickle
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import scrapy
from hypothesis import given, settings
from hypothesis import strategies as st

from config.load import parse_config
from spiders.crawler.jobs import SourceJob
from spiders.crawler.news import NewsSpider
from spiders.distributed import request_json
from spiders.distributed.frontier import FrontierKeys
from spiders.parsing.feeds import FeedEntry
from spiders.parsing.sitemaps import SitemapEntry

pytestmark = pytest.mark.filterwarnings(
    "ignore::scrapy.exceptions.ScrapyDeprecationWarning"  # scrapy-redis calls old Scrapy APIs
)

REDIS_SERVER = os.environ.get("MEDIAWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
EXAMPLES = int(os.environ.get("MEDIAWATCH_FUZZ_EXAMPLES", "60"))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("MEDIAWATCH_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis not reachable at {REDIS_SERVER}: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_SERVER}: {exc}")
    prefix = f"mwtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def _worker_scheduler(prefix: str) -> tuple[Any, NewsSpider]:
    """The scheduler a ``mediawatch worker`` runs, built from its settings, opened."""
    from scrapy.utils.test import get_crawler
    from scrapy_redis.scheduler import Scheduler

    from spiders.distributed.worker import worker_settings

    config = parse_config(
        {
            "storage": {"url": "postgresql://127.0.0.1:5432/test"},
            "cluster": {"redis_url": REDIS_SERVER, "key_prefix": prefix},
        },
        environ={},
    )
    crawler = get_crawler(NewsSpider, worker_settings(config, FrontierKeys(prefix)))
    spider = NewsSpider.from_crawler(
        crawler, jobs=(), known_urls=lambda urls: set(), now=datetime.utcnow
    )
    crawler.spider = spider
    scheduler = Scheduler.from_crawler(crawler)
    scheduler.open(spider)
    return scheduler, spider


def _article_request(spider: NewsSpider, entry: Any) -> scrapy.Request:
    job = SourceJob("Wire", "https://wire.example/rss", etag='"v1"', sitemap_hosts=("cdn.example",))
    request: scrapy.Request = spider._request(
        job, "https://wire.example/a.html", "article", spider.parse_article,
        spider.article_failed, entry=entry, canonical="https://wire.example/a.html",
    )  # fmt: skip
    return request.replace(dont_filter=True, body=b"\x00\xff binary", method="POST")


def test_requests_round_trip_through_the_workers_queue(redis_prefix: str) -> None:
    scheduler, spider = _worker_scheduler(redis_prefix)
    entry = FeedEntry("https://wire.example/a.html", "A title", published=datetime(2026, 1, 2, 3))
    sent = _article_request(spider, entry)
    sent.headers["X-Thing"] = "1"
    scheduler.enqueue_request(sent)
    raw = scheduler.server.lrange(scheduler.queue.key, 0, -1)
    assert raw and all(b"\x80" not in item[:2] for item in raw), "JSON, not a pickle"
    got = scheduler.next_request()
    assert got is not None
    assert (got.url, got.method, got.body) == (sent.url, sent.method, sent.body)
    assert got.cb_kwargs == sent.cb_kwargs and got.meta == sent.meta
    assert got.callback == spider.parse_article and got.errback == spider.article_failed
    assert got.headers.getlist("X-Thing") == [b"1"]


def test_a_pickle_pushed_into_the_queue_runs_nothing(
    redis_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler, spider = _worker_scheduler(redis_prefix)
    planted = tmp_path / "owned"

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(planted), "w"))

    # Someone with access to Redis pushes a pickle ahead of a real request.
    scheduler.server.lpush(scheduler.queue.key, pickle.dumps(Payload()))
    scheduler.enqueue_request(_article_request(spider, SitemapEntry("https://wire.example/b")))
    with caplog.at_level(logging.ERROR):
        first = scheduler.next_request()
        second = scheduler.next_request()
    assert not planted.exists(), "the pickle ran"
    assert first is None
    assert second is not None and second.url == "https://wire.example/a.html"
    dropped = [r for r in caplog.records if "unreadable request" in r.getMessage()]
    assert len(dropped) == 1 and "\n" not in dropped[0].getMessage()


def test_only_known_data_travels() -> None:
    request = {"url": "https://x.example/", "meta": {"thing": object()}}
    with pytest.raises(TypeError, match="cannot travel"):
        request_json.dumps(request)
    with pytest.raises(TypeError, match=r"plain scrapy\.Request"):
        request_json.dumps({"url": "https://x.example/", "_class": "os.system"})
    for hostile in (
        b'{"url": "https://x.example/", "_class": "subprocess.Popen"}',
        b'{"url": "https://x.example/", "meta": {"__mw__": "dataclass", "name": "Popen", "v": {}}}',
        b'{"url": "https://x.example/", "callback": "os.system"}',
        b"\x80\x04K\x01.",
        b"[1, 2]",
    ):
        with pytest.raises(ValueError):
            request_json.loads(hostile)


scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.binary(max_size=20)
values = st.recursive(
    scalars | st.datetimes(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        | st.dictionaries(st.binary(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(meta=st.dictionaries(st.text(max_size=10), values, max_size=5), body=st.binary())
def test_any_data_round_trips(meta: dict[str, Any], body: bytes) -> None:
    request = {"url": "https://x.example/", "body": body, "meta": meta, "callback": "parse"}
    assert request_json.loads(request_json.dumps(request)) == request
