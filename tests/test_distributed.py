"""Distributed mode for real: two ``run`` replicas and two ``worker``s as processes, one
PostgreSQL schema, one Redis, the local newsroom. A worker and then the leading replica
are killed with SIGKILL mid-run; every article is still stored exactly once, syndicated
copies are still one story, the standby takes over, and nothing is alerted twice: the
archive holds two quiet weeks of a cluster, the newsroom then publishes a burst about it,
the leader opens the episode and posts it to a (local) Slack webhook, and is killed right
after; the new leader replays detection and delivery and posts nothing again.

Skips with a reason when PostgreSQL or Redis is not reachable, unless
``MEDIAWATCH_REQUIRE_POSTGRES=1`` / ``MEDIAWATCH_REQUIRE_REDIS=1`` (CI), which fail instead.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.newsroom import Article, Feed, Newsroom
from support.newsroom_content import HOSTILE_PAGES, build_standard, sources_toml
from support.ports import free_port
from support.processes import start_mediawatch, stop, wait_for
from support.redis_server import REDIS_SERVER, redis_prefix_fixture  # noqa: F401
from support.slack_hook import SlackHook

from spiders.parsing.canonical import canonical_url

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SLOW_ARTICLES = 30
LEASE = "12s"
SPIKE = "Mosul Dam"
"""The cluster with two quiet weeks in the archive and a burst during the test."""
DAM_FEED = "/dam/feed.xml"
DAM_HOSTS = (0, 1, 2)
BURST = 12
"""Stories in the burst: even split over an hour boundary, one part is still a spike."""
ARCHIVE = "https://archive.example/"
"""URL prefix of the history written straight into the database."""


def _slow_story(n: int) -> Article:
    words = " ".join(f"word{(n * 37 + i * 11) % 499}" for i in range(90))
    return Article(
        host=1,
        path=f"/slow/story-{n}.html",
        title=f"Slow wire report number {n} on the Basra port negotiations",
        paragraphs=[f"Slow story {n}. {words}.", f"It is the {n}th of a series."],
        published=datetime.now(UTC) - timedelta(minutes=n),
    )


def _dam_story(n: int, host: int) -> Article:
    words = " ".join(f"term{(n * 53 + i * 7) % 601}" for i in range(80))
    return Article(
        host=host,
        path=f"/dam/report-{n}.html",
        title=f"Mosul Dam report {n}: engineers warn of seepage in gallery {n * 7 + 3}",
        paragraphs=[f"Dispatch {n} on the Mosul Dam. {words}.", f"Update {n} from the site."],
        published=datetime.now(UTC) - timedelta(minutes=1),
    )


@pytest.fixture
def room() -> Iterator[Newsroom]:
    """The standard newsroom plus a wire of slow pages, so that a crawl takes a while, and
    one feed per publisher host that will carry the Mosul Dam burst (one older, unrelated
    item in each for now)."""
    room = Newsroom().start()
    build_standard(room)
    slow = [_slow_story(n) for n in range(SLOW_ARTICLES)]
    for article in slow:
        room.add_article(article)
        reply = lambda _r, a=article: replace(room._article_reply(a), delay=0.4)  # noqa: E731
        room.route(article.path, reply, article.host)
    room.add_feed(Feed(1, "/slow/wire.xml", "rss", "Slow wire", slow))
    for host in DAM_HOSTS:
        calm = Article(
            host,
            "/dam/weather.html",
            f"Weather outlook number {host}: a mild week ahead in the north",
            [f"Forecasters {host} expect mild temperatures and light wind all week."],
            published=datetime.now(UTC) - timedelta(days=1),
        )
        room.add_article(calm)
        room.add_feed(Feed(host, DAM_FEED, "rss", f"Dam desk {host}", [calm]))
    yield room
    room.stop()


def write_quiet_history(url: str, days: int = 16, seed: int = 11) -> int:
    """Two-plus weeks of the ``SPIKE`` cluster at 0-1 story an hour, ending two hours ago,
    written the way the pipeline stores articles and mentions."""
    from clock.moments import utcnow
    from storage.engine import make_engine, session_factory, transaction
    from storage.models import Article as Stored
    from storage.models import Mention

    rng = random.Random(seed)
    now = utcnow()
    engine = make_engine(url)
    written = 0
    try:
        with transaction(session_factory(engine)) as session:
            start = now - timedelta(days=days)
            for hour in range(days * 24 - 2):
                if rng.random() >= 0.4:
                    continue
                when = start + timedelta(hours=hour, minutes=rng.randrange(60))
                publisher = rng.choice(["rudaw.net", "shafaq.com", "ina.iq", "alsumaria.tv"])
                written += 1
                article = Stored(
                    url=f"{ARCHIVE}{publisher}/{written}",
                    publisher=publisher,
                    title=f"Mosul Dam maintenance note {written}",
                    language="en",
                    published_at=when,
                    fetched_at=when,
                    seen_at=when,
                )
                session.add(article)
                session.flush()
                article.story_id = article.id
                session.add(
                    Mention(
                        article=article,
                        cluster=SPIKE,
                        term=SPIKE,
                        seen_at=when,
                        story_id=article.id,
                    )
                )
    finally:
        engine.dispose()
    return written


@dataclass
class Cluster:
    configs: list[Path]
    ports: list[int]
    url: str
    logs: Path
    processes: dict[str, subprocess.Popen[str]]

    hook: SlackHook

    def start(self, name: str, *args: str, config: int = 0) -> subprocess.Popen[str]:
        env = {"SLACK_WEBHOOK_URL": self.hook.url}
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            process = start_mediawatch(
                self.configs[config], *args, env=env, stdout=log, stderr=subprocess.STDOUT
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

    def query(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def dam_polls(self) -> int:
        """Successful polls recorded for the dam feeds."""
        rows = self.query(
            "SELECT count(*) FROM polls JOIN sources ON sources.id = polls.source_id "
            "WHERE sources.name LIKE 'Dam desk %' AND polls.status = 'ok'"
        )
        return int(rows[0][0])  # type: ignore[call-overload]

    def poll_now(self, names: str) -> None:
        """Make the sources whose name is LIKE ``names`` due now (an editor's "poll now")."""
        from clock.moments import utcnow

        self.query(
            "UPDATE sources SET next_poll_at = :now WHERE name LIKE :names",
            now=utcnow() - timedelta(seconds=1),
            names=names,
        )


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, redis_prefix: str, room: Newsroom, slack_hook, cli):  # type: ignore[no-untyped-def]
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
            '[[alerts.channels]]\ntype = "slack"\nwebhook_url_env = "SLACK_WEBHOOK_URL"\n\n'
            '[[clusters]]\nname = "Peshmerga"\nterms = ["Peshmerga"]\n\n'
            f'[[clusters]]\nname = "{SPIKE}"\nterms = ["{SPIKE}"]\n\n'
            f"{sources_toml(room)}\n"
            f'[[sources]]\nname = "Slow wire"\nurl = "{room.url("/slow/wire.xml", 1)}"\n\n'
            + "".join(
                f'[[sources]]\nname = "Dam desk {host}"\nurl = "{room.url(DAM_FEED, host)}"\n\n'
                for host in DAM_HOSTS
            ),
            encoding="utf-8",
        )
        configs.append(path)
    assert cli("--config", str(configs[0]), "init").code == 0
    assert write_quiet_history(postgres_url) > 100
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Cluster(configs, ports, postgres_url, logs, {}, slack_hook)
    yield running
    for process in running.processes.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def expected_urls(room: Newsroom) -> set[str]:
    stored = {canonical_url(room.url(path, host)) for (host, path) in room.articles}
    stored -= {canonical_url(room.url("/world/2019/05/old-story.html", 2))}  # too old to follow
    stored |= {canonical_url(room.url(path)) for path in HOSTILE_PAGES}  # feed text stands in
    return stored


def publish_burst(room: Newsroom, numbers: range) -> None:
    """Stories about the Mosul Dam, rotating over the three publisher hosts; each host's
    dam feed is re-published with them on top (feeds render at request time)."""
    for n in numbers:
        room.add_article(_dam_story(n, DAM_HOSTS[n % len(DAM_HOSTS)]))
    for host in DAM_HOSTS:
        listed = [
            a for (h, path), a in room.articles.items() if h == host and path.startswith("/dam/")
        ]
        listed.sort(key=lambda a: a.published or datetime.min.replace(tzinfo=UTC), reverse=True)
        room.add_feed(Feed(host, DAM_FEED, "rss", f"Dam desk {host}", listed))


def test_killing_a_worker_and_the_leader_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
    cluster: Cluster, room: Newsroom
) -> None:
    hook = cluster.hook
    first = cluster.start("replica-a", "run", config=0)
    assert wait_for(lambda: cluster.health(0).get("role") == "leader"), cluster.log("replica-a")
    cluster.start("replica-b", "run", config=1)
    assert wait_for(lambda: cluster.health(1).get("role") == "standby"), cluster.log("replica-b")

    doomed = cluster.start("worker-1", "worker")
    survivor = cluster.start("worker-2", "worker")
    slow_hits = lambda: sum(room.hits(f"/slow/story-{n}.html", 1) for n in range(SLOW_ARTICLES))  # noqa: E731
    assert wait_for(lambda: slow_hits() >= 6, timeout=90), cluster.log("worker-1")
    doomed.kill()  # mid-run: it holds requests in flight
    stored_at_kill = cluster.query(
        f"SELECT count(*) FROM articles WHERE url NOT LIKE '{ARCHIVE}%'"
    )[0][0]
    assert isinstance(stored_at_kill, int) and stored_at_kill < len(expected_urls(room))

    # The dam desks' first polls are backlog (no alert); then the burst is published and
    # they are due again: the leader detects the spike and posts it to Slack.
    assert wait_for(lambda: cluster.dam_polls() >= len(DAM_HOSTS), timeout=90), cluster.log(
        "worker-2"
    )[-3000:]
    assert cluster.query("SELECT count(*) FROM alert_episodes")[0][0] == 0, "backlog is no news"
    publish_burst(room, range(BURST))
    cluster.poll_now("Dam desk %")
    sent = lambda: cluster.query(  # noqa: E731
        "SELECT id FROM alert_outbox WHERE status = 'sent'"
    )
    assert wait_for(lambda: sent() and hook.slack_payloads(), timeout=90), (
        cluster.log("replica-a")[-3000:],
        hook.problems,
    )
    first.kill()  # the leader, right after it delivered the alert
    assert len(hook.slack_payloads()) == 1

    # The standby takes over within the bound, and the crawl completes without the dead.
    assert wait_for(lambda: cluster.health(1).get("role") == "leader", timeout=10)
    # One more story for the open episode: the new leader stores it, replays detection
    # over the episode and runs delivery, and posts nothing again.
    publish_burst(room, range(BURST, BURST + 1))
    cluster.poll_now("Dam desk %")
    expected = expected_urls(room)
    stored = lambda: {  # noqa: E731
        str(row[0])
        for row in cluster.query(f"SELECT url FROM articles WHERE url NOT LIKE '{ARCHIVE}%'")
    }
    assert wait_for(lambda: stored() >= expected, timeout=120), sorted(expected - stored())[:5]
    assert "now leads" in cluster.log("replica-b")
    time.sleep(3)  # ticks: the new leader counts the stored poll and runs detection

    urls = [
        str(row[0])
        for row in cluster.query(f"SELECT url FROM articles WHERE url NOT LIKE '{ARCHIVE}%'")
    ]
    assert len(urls) == len(set(urls)) and set(urls) == expected, "every article stored once"
    copies = cluster.query(
        "SELECT story_id, duplicate_of_id FROM articles WHERE title LIKE 'Peshmerga and Iraqi%'"
    )
    assert len(copies) == 3 and len({story for story, _ in copies}) == 1, "one story"
    assert sum(of is None for _, of in copies) == 1

    # Exactly one episode, one outbox row per channel, sent once; one Slack post in all.
    episodes = cluster.query("SELECT id, cluster, status FROM alert_episodes")
    assert [(cluster_, status) for _, cluster_, status in episodes] == [(SPIKE, "open")]
    outbox = cluster.query("SELECT episode_id, channel, kind, status FROM alert_outbox")
    assert outbox == [(episodes[0][0], "slack", "open", "sent")], outbox
    payloads = hook.slack_payloads()
    assert len(payloads) == 1 and len(hook.requests) == 1, "no alert sent twice"
    assert SPIKE in payloads[0]["text"], payloads[0]["text"]
    twice = cluster.query(
        "SELECT idempotency_key FROM alert_outbox WHERE status = 'sent' "
        "GROUP BY idempotency_key HAVING count(*) > 1"
    )
    assert twice == [], "no alert sent twice"
    before_takeover = cluster.log("replica-b").split("now leads")[0]
    assert "queued for the workers" not in before_takeover, "a standby schedules nothing"

    # Every source was polled and recorded; the survivors stop cleanly.
    unpolled = lambda: cluster.query("SELECT name FROM sources WHERE last_polled_at IS NULL")  # noqa: E731
    assert wait_for(lambda: unpolled() == [], timeout=90), unpolled()
    assert stop(survivor) == 0, cluster.log("worker-2")[-3000:]
    assert stop(cluster.processes["replica-b"]) == 0, cluster.log("replica-b")[-3000:]
    logs = cluster.log("worker-2") + cluster.log("replica-b")
    assert "Traceback" not in logs, logs[max(0, logs.find("Traceback") - 2000) :][:6000]
    assert len(hook.requests) == 1, "nothing posted while stopping either"
