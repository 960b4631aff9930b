"""Distributed mode for real: two ``run`` replicas and two ``worker``s as processes, one
PostgreSQL schema, one Redis, the local newsroom. A worker and then the leading replica
are killed with SIGKILL mid-run; every article is still stored exactly once, syndicated
copies are still one story, the standby takes over, and nothing is alerted twice.

Skips with a reason when PostgreSQL or Redis is not reachable, unless
``MEDIAWATCH_REQUIRE_POSTGRES=1`` / ``MEDIAWATCH_REQUIRE_REDIS=1`` (CI), which fail instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from newsroom import Article, Feed, Newsroom
from newsroom_content import HOSTILE_PAGES, build_standard, sources_toml
from sqlalchemy import create_engine, text

from spiders.canonical import canonical_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = os.environ.get("MEDIAWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
SLOW_ARTICLES = 30
LEASE = "12s"


def _redis_available() -> str | None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_SERVER, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # any failure to connect means "not available"
        return f"Redis not reachable at {REDIS_SERVER}: {str(exc).splitlines()[0]}"
    return None


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    reason = _redis_available()
    if reason is not None:
        if os.environ.get("MEDIAWATCH_REQUIRE_REDIS") == "1":
            pytest.fail(reason + " (MEDIAWATCH_REQUIRE_REDIS=1)")
        pytest.skip(reason)
    import redis

    prefix = f"mwtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_SERVER)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _slow_story(n: int) -> Article:
    words = " ".join(f"word{(n * 37 + i * 11) % 499}" for i in range(90))
    return Article(
        host=1,
        path=f"/slow/story-{n}.html",
        title=f"Slow wire report number {n} on the Basra port negotiations",
        paragraphs=[f"Slow story {n}. {words}.", f"It is the {n}th of a series."],
        published=datetime.now(UTC) - timedelta(minutes=n),
    )


@pytest.fixture
def room() -> Iterator[Newsroom]:
    """The standard newsroom plus a wire of slow pages, so that a crawl takes a while."""
    room = Newsroom().start()
    build_standard(room)
    slow = [_slow_story(n) for n in range(SLOW_ARTICLES)]
    for article in slow:
        room.add_article(article)
        reply = lambda _r, a=article: replace(room._article_reply(a), delay=0.4)  # noqa: E731
        room.route(article.path, reply, article.host)
    room.add_feed(Feed(1, "/slow/wire.xml", "rss", "Slow wire", slow))
    yield room
    room.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    configs: list[Path]
    ports: list[int]
    url: str
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def start(self, name: str, *args: str, config: int = 0) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("MEDIAWATCH_DB_URL", None)
        command = [sys.executable, "-m", "mediawatch", "--config", str(self.configs[config])]
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                [*command, *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def health(self, replica: int) -> dict[str, object]:
        try:
            url = f"http://127.0.0.1:{self.ports[replica]}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return dict(json.loads(exc.read()))
        except OSError:
            return {}

    def query(self, sql: str) -> list[tuple[object, ...]]:
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_prefix: str, room: Newsroom, cli):  # type: ignore[no-untyped-def]
    ports = [free_port(), free_port()]
    configs = []
    for index, port in enumerate(ports):
        path = tmp_path / f"config{index}.toml"
        path.write_text(
            f'[storage]\nurl = "{postgres_url}"\n\n'
            '[crawl]\nallow_private_networks = true\ntimeout = "2s"\ndelay = "1ms"\n'
            'concurrency_per_domain = 2\nmin_interval = "1m"\n\n'
            f'[service]\ntick = "1s"\nhttp = "127.0.0.1:{port}"\n\n'
            f'[cluster]\nredis_url = "{REDIS_SERVER}"\nkey_prefix = "{redis_prefix}"\n'
            f'lease = "{LEASE}"\nleader_takeover = "3s"\n\n'
            '[[clusters]]\nname = "Peshmerga"\nterms = ["Peshmerga"]\n\n'
            f"{sources_toml(room)}\n"
            f'[[sources]]\nname = "Slow wire"\nurl = "{room.url("/slow/wire.xml", 1)}"\n',
            encoding="utf-8",
        )
        configs.append(path)
    assert cli("--config", str(configs[0]), "init").code == 0
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Cluster(configs, ports, postgres_url, logs, {})
    yield running
    for process in running.processes.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def expected_urls(room: Newsroom) -> set[str]:
    stored = {canonical_url(room.url(path, host)) for (host, path) in room.articles}
    stored -= {canonical_url(room.url("/world/2019/05/old-story.html", 2))}  # too old to follow
    stored |= {canonical_url(room.url(path)) for path in HOSTILE_PAGES}  # feed text stands in
    return stored


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def test_killing_a_worker_and_the_leader_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
    cluster: Cluster, room: Newsroom
) -> None:
    first = cluster.start("replica-a", "run", config=0)
    assert wait_for(lambda: cluster.health(0).get("role") == "leader"), cluster.log("replica-a")
    cluster.start("replica-b", "run", config=1)
    assert wait_for(lambda: cluster.health(1).get("role") == "standby"), cluster.log("replica-b")

    doomed = cluster.start("worker-1", "worker")
    survivor = cluster.start("worker-2", "worker")
    slow_hits = lambda: sum(room.hits(f"/slow/story-{n}.html", 1) for n in range(SLOW_ARTICLES))  # noqa: E731
    assert wait_for(lambda: slow_hits() >= 6, timeout=40), cluster.log("worker-1")
    doomed.kill()  # mid-run: it holds requests in flight
    first.kill()
    stored_at_kill = cluster.query("SELECT count(*) FROM articles")[0][0]
    assert isinstance(stored_at_kill, int) and stored_at_kill < len(expected_urls(room))

    # The standby takes over within the bound, and the crawl completes without the dead.
    assert wait_for(lambda: cluster.health(1).get("role") == "leader", timeout=10)
    expected = expected_urls(room)
    stored = lambda: {str(row[0]) for row in cluster.query("SELECT url FROM articles")}  # noqa: E731
    assert wait_for(lambda: stored() >= expected, timeout=60), sorted(expected - stored())[:5]
    assert "now leads" in cluster.log("replica-b")

    urls = [str(row[0]) for row in cluster.query("SELECT url FROM articles")]
    assert len(urls) == len(set(urls)) and set(urls) == expected, "every article stored once"
    copies = cluster.query(
        "SELECT story_id, duplicate_of_id FROM articles WHERE title LIKE 'Peshmerga and Iraqi%'"
    )
    assert len(copies) == 3 and len({story for story, _ in copies}) == 1, "one story"
    assert sum(of is None for _, of in copies) == 1
    twice = cluster.query(
        "SELECT idempotency_key FROM alert_outbox WHERE status = 'sent' "
        "GROUP BY idempotency_key HAVING count(*) > 1"
    )
    assert twice == [], "no alert sent twice"
    before_takeover = cluster.log("replica-b").split("now leads")[0]
    assert "queued for the workers" not in before_takeover, "a standby schedules nothing"

    # Every source was polled and recorded; the survivors stop cleanly.
    unpolled = lambda: cluster.query("SELECT name FROM sources WHERE last_polled_at IS NULL")  # noqa: E731
    assert wait_for(lambda: unpolled() == [], timeout=30), unpolled()
    assert stop(survivor) == 0, cluster.log("worker-2")[-3000:]
    assert stop(cluster.processes["replica-b"]) == 0, cluster.log("replica-b")[-3000:]
    assert "Traceback" not in cluster.log("worker-2") + cluster.log("replica-b")


# -- the parts, against the real Redis -------------------------------------------------


def test_a_ticket_round_trips_and_goes_stale_after_its_lease() -> None:
    from spiders.frontier import Ticket
    from spiders.news import SourceJob

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

    from spiders.frontier import FrontierKeys, Ticket
    from spiders.ledger import PollLedger
    from spiders.news import SourceJob
    from spiders.polls import PollResult

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

    from spiders.frontier import LeasedDupeFilter

    dupes = LeasedDupeFilter(redis.Redis.from_url(REDIS_SERVER), f"{redis_prefix}:fp", ttl=1.0)
    page = scrapy.Request("http://example.org/a.html")
    assert not dupes.request_seen(page)
    assert dupes.request_seen(page), "a second poll's request waits for the first"
    hop = page.replace(meta={"redirect_times": 1})
    assert not dupes.request_seen(hop), "a redirect loop must reach the errback"
    time.sleep(1.1)
    assert not dupes.request_seen(page), "forgotten before the source is due again"


def test_cluster_mode_needs_postgresql(tmp_path: Path) -> None:
    from mediawatch.config import load_config
    from mediawatch.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text('[cluster]\nredis_url = "redis://127.0.0.1:6379/0"\n')
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        load_config(path, environ={})
