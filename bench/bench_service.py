"""The service under load: N synthetic feeds (mostly answering 304), each polled every 15m,
for a real stretch of time (default 15 minutes: one whole interval, not extrapolated).

Two modes, each on an empty database with the first polls spread over one interval (as a
long-running service has them):

- ``sqlite``: ``mediawatch run`` alone (its tick runs ``crawl --due`` subprocesses);
- ``distributed``: PostgreSQL + Redis, ``mediawatch run`` as the leader that queues what is
  due, and ``--workers`` ``mediawatch worker`` processes that poll.

Reports polls/s sustained against what the feeds need (N / interval, the baseline in the
same run), scheduling lag per poll (poll start minus the due time it was polled for: the
bench samples every source's due time every few seconds; p50/p95/max), CPU of the
mediawatch processes and, in distributed mode, of the PostgreSQL backends and Redis, peak
memory, and from the measured CPU per poll what 50,000 and 100,000 feeds would need.

    python bench/bench_service.py [--feeds 10000] [--minutes 15] [--every 15m]
                                  [--mode sqlite|distributed] [--workers 2]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_distributed import POSTGRES, REDIS, server_cpu  # noqa: E402

from bench.archive import scratch_schema  # noqa: E402

SAMPLE_SECONDS = 3.0
TICK_SECONDS = 10


class FeedFarm(BaseHTTPRequestHandler):
    """Feed n: a small RSS document; a conditional request gets 304 (mostly)."""

    protocol_version = "HTTP/1.1"
    changed_every = 20  # one poll in twenty finds something new

    def do_GET(self) -> None:
        match = re.match(r"/feed/(\d+)", self.path)
        if not match:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        n = int(match.group(1))
        epoch = int(time.time() // 900)
        etag = f'"{n}-{epoch // self.changed_every}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>http://127.0.0.1/</link><description>bench</description>"
            f"<item><title>Feed {n} item {epoch}</title>"
            f"<link>http://127.0.0.1:1/none/{n}/{epoch}</link>"
            f"<description>Nothing to see</description>"
            f"<pubDate>{formatdate(usegmt=True)}</pubDate></item></channel></rss>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile_from_histogram(metrics: str, name: str, q: float) -> float | None:
    buckets = [
        (float("inf") if le == "+Inf" else float(le), float(v))
        for le, v in re.findall(rf'{name}_bucket{{le="([^"]+)"}} ([0-9.e+]+)', metrics)
    ]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for le, count in buckets:
        if count >= q * total:
            return le
    return None


@contextmanager
def database(mode: str, tmp: Path, tag: str) -> Iterator[str]:
    """The storage URL: a SQLite file, or a scratch PostgreSQL schema dropped afterwards
    (``bench.archive.scratch_schema``) whose connections carry ``tag`` as their name."""
    if mode == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    with scratch_schema(POSTGRES, "bench_service") as url:
        if url is None:
            raise SystemExit("distributed mode needs PostgreSQL")
        yield f"{url}&application_name={tag}"


def write_config(path: Path, url: str, args: argparse.Namespace, port: int, metrics: int) -> None:
    lines = [
        f'[storage]\nurl = "{url}"\n',
        '[crawl]\nallow_private_networks = true\nmin_interval = "5m"\nmax_interval = "15m"\n'
        'obey_robots = false\ndelay = "0s"\nconcurrency = 64\nconcurrency_per_domain = 64\n'
        'timeout = "10s"\n',
        f'[service]\nhttp = "127.0.0.1:{metrics}"\ntick = "{TICK_SECONDS}s"\n',
    ]
    if args.mode == "distributed":
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        lines.append(f'[distributed]\nredis_url = "{REDIS}"\nkey_prefix = "{prefix}"\n')
    lines += [
        f'[[sources]]\nname = "feed {n}"\nurl = "http://127.0.0.1:{port}/feed/{n}"\n'
        f'every = "{args.every}"\n'
        for n in range(args.feeds)
    ]
    path.write_text("\n".join(lines))


def spread_due_times(engine: Engine, interval: float) -> None:
    """Every source due at a random moment of the next interval."""
    import random

    start = datetime.utcnow()
    with engine.begin() as connection:
        ids = connection.execute(text("SELECT id FROM sources")).scalars().all()
        connection.execute(
            text("UPDATE sources SET next_poll_at = :due WHERE id = :id"),
            [{"id": i, "due": start + timedelta(seconds=random.uniform(0, interval))} for i in ids],
        )


class DueSampler(threading.Thread):
    """Reads every source's due time every few seconds: each poll's due time is then the
    latest one seen at or before its start."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.seen: dict[int, set[datetime]] = defaultdict(set)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with self.engine.connect() as connection:
                for source, due in connection.execute(
                    text("SELECT id, next_poll_at FROM sources WHERE next_poll_at IS NOT NULL")
                ):
                    self.seen[source].add(_naive(due))
            self.stop.wait(SAMPLE_SECONDS)

    def lags(self, polls: list[tuple[int, datetime]], early: timedelta) -> tuple[list[float], int]:
        """Seconds from due to start per poll (negative: polled early, as a source due
        within half a tick is), and how many polls had no due time seen."""
        lags, unknown = [], 0
        for source, started in polls:
            horizon = _naive(started) + early + timedelta(seconds=1)
            before = [due for due in self.seen.get(source, ()) if due <= horizon]
            if not before:
                unknown += 1
                continue
            lags.append((_naive(started) - max(before)).total_seconds())
        return lags, unknown


def _naive(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=None)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def parse_every(text_value: str) -> float:
    number, unit = float(text_value[:-1]), text_value[-1]
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=int(os.environ.get("BENCH_FEEDS", 10000)))
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("BENCH_MINUTES", 15)))
    parser.add_argument("--every", default="15m")
    parser.add_argument("--mode", choices=("sqlite", "distributed"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log", type=Path, help="keep the processes' logs in this file")
    args = parser.parse_args()
    interval = parse_every(args.every)

    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedFarm)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tag = f"mwbench{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as folder, database(args.mode, Path(folder), tag) as url:
        config = Path(folder) / "config.toml"
        metrics_port = free_port()
        write_config(config, url, args, server.server_port, metrics_port)
        env = {**os.environ, "MEDIAWATCH_CONFIG": str(config)}
        env.pop("MEDIAWATCH_DB_URL", None)
        mw = [sys.executable, "-m", "mediawatch"]
        subprocess.run([*mw, "init"], env=env, check=True, capture_output=True)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        spread_due_times(engine, interval)
        sampler = DueSampler(engine)
        sampler.start()
        db0, redis0 = server_cpu(engine, tag) if args.mode == "distributed" else (0.0, 0.0)
        started_at = datetime.utcnow()
        started = time.monotonic()
        level = "INFO" if args.log else "WARNING"
        commands = [[*mw, "--log-level", level, "run"]]
        if args.mode == "distributed":
            commands += [[*mw, "--log-level", level, "worker"]] * args.workers
        log = args.log.open("w") if args.log else subprocess.DEVNULL
        processes = [
            subprocess.Popen(command, env=env, stdout=log, stderr=log) for command in commands
        ]
        time.sleep(args.minutes * 60)
        db1, redis1 = server_cpu(engine, tag) if args.mode == "distributed" else (0.0, 0.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=180)
        elapsed = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        with engine.connect() as connection:
            rows = [
                (int(source), _naive(started), str(status))
                for source, started, status in connection.execute(
                    text("SELECT source_id, started_at, status FROM polls WHERE started_at >= :t"),
                    {"t": started_at},
                )
            ]
        engine.dispose()
    server.shutdown()
    report(args, interval, elapsed, rows, sampler, metrics, db1 - db0, redis1 - redis0)


def report(
    args: argparse.Namespace,
    interval: float,
    elapsed: float,
    rows: list[tuple[int, datetime, str]],
    sampler: DueSampler,
    metrics: str,
    db_cpu: float,
    redis_cpu: float,
) -> None:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime
    polls = len(rows)
    statuses: dict[str, int] = defaultdict(int)
    for _, _, status in rows:
        statuses[status] += 1
    need = args.feeds / interval
    mode = args.mode if args.mode == "sqlite" else f"distributed, {args.workers} workers"
    print(f"\n=== service: {args.feeds} feeds every {args.every}, {mode}, {elapsed / 60:.1f} min")
    print(f"polls: {polls} ({dict(statuses)}): {polls / elapsed:.2f} polls/s sustained")
    print(f"needed: {need:.2f} polls/s (N / interval): ratio {polls / elapsed / need:.2f}")
    early = timedelta(seconds=TICK_SECONDS / 2)  # storage.queries.due_early
    lags, unknown = sampler.lags([(source, started) for source, started, _ in rows], early)
    if lags:
        print(
            f"scheduling lag (poll start - due): p50 {statistics.median(lags):.1f}s, "
            f"p95 {percentile(lags, 0.95):.1f}s, max {max(lags):.1f}s, min {min(lags):.1f}s over"
            f" {len(lags)} polls ({unknown} without a sampled due time); target p95 < 60s"
        )
    p95 = percentile_from_histogram(metrics, "mediawatch_poll_lag_seconds", 0.95)
    print(f"  (the service's own histogram, lag seen at its tick: p95 <= {p95}s)")
    total = cpu + db_cpu + redis_cpu
    print(
        f"CPU: mediawatch processes {cpu:.1f}s, PostgreSQL backends {db_cpu:.1f}s, Redis "
        f"{redis_cpu:.1f}s: {total / elapsed * 100:.0f}% of one core; "
        f"{total / max(polls, 1) * 1000:.1f} CPU-ms per poll"
    )
    print(f"peak RSS of the largest mediawatch process: {usage.ru_maxrss / 1024:.0f} MiB")
    per_poll = total / max(polls, 1)
    for feeds in (50_000, 100_000):
        rate = feeds / interval
        cores = rate * per_poll
        print(
            f"{feeds:,} feeds every {args.every}: {rate:.1f} polls/s x {per_poll * 1000:.1f} "
            f"CPU-ms = {cores:.1f} cores at this cost per poll"
        )


if __name__ == "__main__":
    main()
