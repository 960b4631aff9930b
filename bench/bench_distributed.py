"""Distributed mode: crawl throughput with 1 and 2 workers on PostgreSQL + Redis, against
the single-process SQLite baseline (``crawl --once``), and queue lag under 5,000 feeds.

A local farm serves F feeds over 8 loopback hosts, each listing A new article pages
(~450 words of distinct text, so extraction and dedupe do real work). Each mode starts
on an empty database and crawls everything once:

- ``sqlite``: ``mediawatch crawl --once`` (the baseline: one process);
- ``workers=N``: the bench claims every source and queues the tickets exactly as the
  leader's tick does (``scheduler.queue.SourceQueue``), then N ``mediawatch worker``
  processes run until every poll is recorded.

CPU is user+system seconds of the crawl processes, and separately of the PostgreSQL and
Redis servers (from /proc). Per-core figures divide articles by those CPU seconds.

Queue lag: 5,000 feeds that answer 304 (their ETags are known), all due at once, two
workers: p50/p95/max of poll start minus due time, and polls/s.

    python bench/bench_distributed.py [--feeds 50] [--articles 10] [--lag-feeds 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POSTGRES = os.environ.get("MEDIAWATCH_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
REDIS = os.environ.get("MEDIAWATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
HOSTS = [f"127.0.0.{n}" for n in range(1, 9)]
WORDS = (  # noqa: SIM905
    "ministry militia baghdad basra erbil council governor border drone statement commander "
    "faction protest checkpoint pipeline province ceasefire negotiation envoy reform minister "
    "court report tribe harbour refinery airport parliament budget election convoy oil power "
    "water police army patrol village market school hospital bridge road port river city"
).split()
TICK = os.sysconf("SC_CLK_TCK")


class Farm(BaseHTTPRequestHandler):
    """/feed/<n>: RSS listing ``articles`` pages; /a/<n>/<k>: an article page.
    ``/etag/<n>``: a feed that answers 304 to ``If-None-Match: "v1"``."""

    protocol_version = "HTTP/1.1"
    articles = 10

    def do_GET(self) -> None:
        host = self.server.server_address[0]
        if match := re.match(r"/feed/(\d+)$", self.path):
            n = int(match.group(1))
            items = "".join(
                f"<item><title>Report {n}-{k}: {' '.join(_words(n * 1000 + k, 8))}</title>"
                f"<link>http://{host}:{self.server.server_address[1]}/a/{n}/{k}</link>"
                f"<pubDate>{formatdate(time.time() - k * 600, usegmt=True)}</pubDate></item>"
                for k in range(self.articles)
            )
            self._reply(
                200,
                f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
                f"{items}</channel></rss>",
                "application/rss+xml",
            )
        elif match := re.match(r"/a/(\d+)/(\d+)$", self.path):
            seed = int(match.group(1)) * 1000 + int(match.group(2))
            paragraphs = "".join(f"<p>{' '.join(_words(seed * 10 + i, 75))}.</p>" for i in range(6))
            self._reply(
                200,
                f"<html><head><title>Report {seed}</title></head><body><nav>Home News</nav>"
                f"<article><h1>Report {seed}: {' '.join(_words(seed, 8))}</h1>{paragraphs}"
                "</article><footer>Copyright</footer></body></html>",
                "text/html; charset=utf-8",
            )
        elif re.match(r"/etag/(\d+)$", self.path):
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._reply(200, '<rss version="2.0"><channel/></rss>', "application/rss+xml")
        else:
            self._reply(404, "not found", "text/plain")

    def _reply(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def _words(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(WORDS)}{rng.randrange(300)}" for _ in range(count)]


def start_farm() -> list[str]:
    bases = []
    for host in HOSTS:
        server = ThreadingHTTPServer((host, 0), Farm)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        bases.append(f"http://{host}:{server.server_address[1]}")
    return bases


def config_text(storage: str, sources: list[str], cluster: str = "") -> str:
    lines = [
        f'[storage]\nurl = "{storage}"\n',
        '[crawl]\nallow_private_networks = true\nobey_robots = false\ndelay = "0s"\n'
        'concurrency = 32\nconcurrency_per_domain = 8\ntimeout = "20s"\n',
        cluster,
    ]
    lines += [f'[[sources]]\nname = "s{n}"\nurl = "{url}"\n' for n, url in enumerate(sources)]
    return "\n".join(lines)


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def server_cpu(engine: Engine, tag: str) -> tuple[float, float]:
    """CPU seconds used so far by this run's PostgreSQL backends (``application_name`` =
    ``tag``; other work on the machine does not count) and by the Redis server."""
    with engine.connect() as connection:
        pids = connection.execute(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :t"), {"t": tag}
        ).scalars()
        postgres = sum(_cpu_of(pid) for pid in pids)
    redis = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True, text=True)
    return postgres, sum(_cpu_of(int(pid)) for pid in redis.stdout.split())


def _cpu_of(pid: int) -> float:
    try:
        return process_cpu(pid)
    except OSError:
        return 0.0


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mediawatch(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mediawatch", "--config", str(config), *args]


def sqlite_baseline(tmp: Path, sources: list[str], etag: str | None = None) -> dict[str, float]:
    name = f"sqlite-{len(sources)}"
    config = tmp / f"{name}.toml"
    config.write_text(config_text(f"sqlite:///{tmp / name}.db", sources))
    subprocess.run(mediawatch(config, "init"), check=True, capture_output=True)
    engine = create_engine(f"sqlite:///{tmp / name}.db")
    if etag:
        with engine.begin() as connection:
            connection.execute(text("UPDATE sources SET etag = :e"), {"e": etag})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    subprocess.run(
        mediawatch(config, "--log-level", "WARNING", "crawl", "--once", "--format", "json"),
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with engine.connect() as connection:
        articles = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
        polls = connection.execute(text("SELECT count(*) FROM polls")).scalar_one()
    engine.dispose()
    return {
        "seconds": seconds,
        "articles": articles,
        "polls": polls,
        "cpu": cpu,
        "db": 0,
        "redis": 0,
    }


def distributed(
    tmp: Path, sources: list[str], workers: int, *, etag: str | None = None
) -> dict[str, float]:
    """Queue every source as the leader would; N workers; until every poll is recorded."""
    from config.load import load_config
    from scheduler.queue import SourceQueue
    from spiders.distributed.worker import connect_redis, frontier_keys
    from storage.engine import make_engine, session_factory

    prefix = f"mwbench:{uuid.uuid4().hex[:10]}"
    tag = f"mwbench-{uuid.uuid4().hex[:8]}"
    with postgres_schema() as schema_url:
        url = f"{schema_url}&application_name={tag}"
        config_path = tmp / f"cluster-{workers}-{len(sources)}.toml"
        config_path.write_text(
            config_text(
                url, sources, f'[cluster]\nredis_url = "{REDIS}"\nkey_prefix = "{prefix}"\n'
            )
        )
        subprocess.run(mediawatch(config_path, "init"), check=True, capture_output=True)
        config = load_config(config_path)
        engine = make_engine(url)
        if etag:
            with engine.begin() as connection:
                connection.execute(text("UPDATE sources SET etag = :e"), {"e": etag})
        redis = connect_redis(REDIS)
        queue = SourceQueue(config, session_factory(engine), redis, frontier_keys(config))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [
            subprocess.Popen(
                mediawatch(config_path, "--log-level", "WARNING", "worker"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        time.sleep(4)  # workers up and idle: measure the crawl, not the interpreter start
        with engine.begin() as connection:
            connection.execute(text("UPDATE sources SET next_poll_at = now() AT TIME ZONE 'utc'"))
        with engine.connect() as connection:
            due = connection.execute(text("SELECT max(next_poll_at) FROM sources")).scalar_one()
        cpu0 = sum(process_cpu(p.pid) for p in procs)
        db0, redis0 = server_cpu(engine, tag)
        began = time.monotonic()
        queue.enqueue_due(due)
        while True:
            with engine.connect() as connection:
                polls = connection.execute(text("SELECT count(*) FROM polls")).scalar_one()
            if polls >= len(sources) or time.monotonic() - began > 900:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - began
        cpu = sum(process_cpu(p.pid) for p in procs) - cpu0
        db1, redis1 = server_cpu(engine, tag)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
        with engine.connect() as connection:
            articles = connection.execute(text("SELECT count(*) FROM articles")).scalar_one()
            size = connection.execute(text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )).scalar_one()  # fmt: skip
            lags = sorted(
                (row[0] - due).total_seconds()
                for row in connection.execute(text("SELECT started_at FROM polls"))
            )
        engine.dispose()
        for key in redis.scan_iter(f"{prefix}:*", count=1000):
            redis.delete(key)
    return {
        "seconds": seconds,
        "articles": articles,
        "cpu": cpu,
        "db": db1 - db0,
        "redis": redis1 - redis0,
        "polls": polls,
        "bytes": float(size or 0),
        "lag_p50": lags[len(lags) // 2] if lags else 0.0,
        "lag_p95": lags[int(len(lags) * 0.95)] if lags else 0.0,
        "lag_max": lags[-1] if lags else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=int(os.environ.get("BENCH_FEEDS", 50)))
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--lag-feeds", type=int, default=5000)
    args = parser.parse_args()
    Farm.articles = args.articles
    bases = start_farm()
    feeds = [f"{bases[n % len(bases)]}/feed/{n}" for n in range(args.feeds)]
    print(
        f"{args.feeds} feeds x {args.articles} articles = {args.feeds * args.articles} "
        f"articles over {len(HOSTS)} hosts; {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = [("sqlite, crawl --once", sqlite_baseline(tmp, feeds))]
        for workers in (1, 2):
            rows.append((f"postgres, {workers} worker(s)", distributed(tmp, feeds, workers)))
        print(f"{'mode':<24}{'articles':>9}{'wall s':>8}{'art/s':>8}{'crawl CPU s':>12}"
              f"{'pg CPU s':>9}{'redis CPU s':>12}{'art/CPU-s':>10}")  # fmt: skip
        base = rows[0][1]["articles"] / rows[0][1]["seconds"]
        for name, row in rows:
            rate = row["articles"] / row["seconds"]
            per_core = row["articles"] / max(0.01, row["cpu"] + row["db"] + row["redis"])
            print(
                f"{name:<24}{row['articles']:>9.0f}{row['seconds']:>8.1f}{rate:>8.1f}"
                f"{row['cpu']:>12.1f}{row['db']:>9.1f}{row['redis']:>12.1f}{per_core:>10.1f}"
                f"   ({rate / base:.2f}x sqlite)"
            )
        stored = rows[-1][1]
        print(
            f"PostgreSQL size after {stored['articles']:.0f} articles (~450 words each), tables "
            f"+ indexes + TOAST: {stored['bytes'] / 1e6:.1f} MB, "
            f"{stored['bytes'] / max(1, stored['articles']) / 1e3:.1f} kB/article"
        )
        lag_sources = [f"{bases[n % len(bases)]}/etag/{n}" for n in range(args.lag_feeds)]
        single = sqlite_baseline(tmp, lag_sources, etag='"v1"')
        print(
            f"{args.lag_feeds} feeds due at once, all 304, sqlite crawl --once: "
            f"{single['polls']:.0f} polls in {single['seconds']:.1f}s = "
            f"{single['polls'] / single['seconds']:.0f} polls/s, CPU {single['cpu']:.1f}s"
        )
        lag = distributed(tmp, lag_sources, 2, etag='"v1"')
        cpu = lag["cpu"] + lag["db"] + lag["redis"]
        print(
            f"queue lag, {args.lag_feeds} feeds due at once (304s), 2 workers: "
            f"{lag['polls']:.0f} polls in {lag['seconds']:.1f}s = "
            f"{lag['polls'] / lag['seconds']:.0f} polls/s; poll start - due: "
            f"p50 {lag['lag_p50']:.1f}s, p95 {lag['lag_p95']:.1f}s, max {lag['lag_max']:.1f}s; "
            f"CPU workers {lag['cpu']:.1f}s, postgres {lag['db']:.1f}s, redis {lag['redis']:.1f}s "
            f"({lag['polls'] / max(0.01, cpu):.0f} polls/CPU-s)"
        )


if __name__ == "__main__":
    main()
