"""The service under load: N synthetic feeds (mostly answering 304), each polled every 15m.

Reports polls/s sustained, scheduling lag (p50/p95 of crawl start minus due time, from
the service's own histogram), CPU and peak memory of the service and its crawl processes.
The baseline in the same run is the rate the target asks for (N feeds / interval).

    python bench/bench_service.py [--feeds 5000] [--minutes 5] [--every 15m]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=int(os.environ.get("BENCH_FEEDS", 5000)))
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("BENCH_MINUTES", 5)))
    parser.add_argument("--every", default="15m")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FeedFarm)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    metrics_port = free_port()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        config = Path(tmp) / "config.toml"
        lines = [
            f'[storage]\nurl = "sqlite:///{db}"\n',
            '[crawl]\nallow_private_networks = true\nmin_interval = "5m"\nmax_interval = "15m"\n'
            'obey_robots = false\ndelay = "0s"\nconcurrency = 64\nconcurrency_per_domain = 64\n'
            'timeout = "10s"\n',
            f'[service]\nhttp = "127.0.0.1:{metrics_port}"\ntick = "10s"\n',
        ]
        lines += [
            f'[[sources]]\nname = "feed {n}"\nurl = "http://127.0.0.1:{port}/feed/{n}"\n'
            f'every = "{args.every}"\n'
            for n in range(args.feeds)
        ]
        config.write_text("\n".join(lines))
        env = {**os.environ, "MEDIAWATCH_CONFIG": str(config)}
        mw = [sys.executable, "-m", "mediawatch"]
        subprocess.run([*mw, "init"], env=env, check=True, capture_output=True)
        # Spread the first polls over one interval, as a long-running service would have them.
        engine = create_engine(f"sqlite:///{db}")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE sources SET next_poll_at = datetime('now', "
                    "'+' || (abs(random()) % 900) || ' seconds')"
                )
            )
        started = time.monotonic()
        service = subprocess.Popen(
            [*mw, "--log-level", "WARNING", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(args.minutes * 60)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            metrics = response.read().decode()
        service.send_signal(signal.SIGTERM)
        service.wait(timeout=120)
        elapsed = time.monotonic() - started
        with engine.connect() as connection:
            polls = connection.execute(
                text("SELECT status, count(*) FROM polls GROUP BY status")
            ).all()
        # Capacity: every feed due at once, one `crawl --due` (the first fills the ETags,
        # the second is the steady state: conditional GETs answered 304).
        bursts = []
        for _ in range(2):
            with engine.begin() as connection:
                connection.execute(text("UPDATE sources SET next_poll_at = '2000-01-01'"))
            began = time.monotonic()
            subprocess.run(
                [*mw, "--log-level", "WARNING", "crawl", "--due"],
                env=env,
                check=True,
                capture_output=True,
            )
            bursts.append(time.monotonic() - began)
        engine.dispose()
    server.shutdown()

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = sum(count for _, count in polls)
    interval_s = 900 if args.every == "15m" else None
    target = args.feeds / (interval_s or 900)
    print(f"feeds: {args.feeds}, every {args.every}, run {elapsed / 60:.1f} min")
    print(f"polls: {total} ({dict(polls)}), {total / elapsed:.2f} polls/s sustained")
    print(
        f"needed for {args.feeds} feeds every {args.every}: {target:.2f} polls/s "
        f"(ratio {total / elapsed / target:.2f})"
    )
    p50 = percentile_from_histogram(metrics, "mediawatch_poll_lag_seconds", 0.5)
    p95 = percentile_from_histogram(metrics, "mediawatch_poll_lag_seconds", 0.95)
    print(f"scheduling lag p50 <= {p50}s, p95 <= {p95}s (histogram bucket bounds)")
    print(
        f"CPU (service + crawls): user {usage.ru_utime:.1f}s, system {usage.ru_stime:.1f}s, "
        f"{(usage.ru_utime + usage.ru_stime) / elapsed * 100:.0f}% of one core"
    )
    print(f"peak RSS of the largest child process: {usage.ru_maxrss / 1024:.0f} MiB")
    print(
        f"capacity, all {args.feeds} feeds due at once in one crawl: first {bursts[0]:.1f}s "
        f"({args.feeds / bursts[0]:.1f} polls/s), steady-state 304s {bursts[1]:.1f}s "
        f"({args.feeds / bursts[1]:.1f} polls/s)"
    )
    print(
        "target: 10,000 feeds every 15m = 11.1 polls/s -> capacity ratio "
        f"{args.feeds / bursts[1] / 11.1:.1f}x"
    )


if __name__ == "__main__":
    main()
