"""The desk's pages and API against the CLI's functions, over a synthetic archive.

Per database, ``bench.archive`` writes N articles (default 1,000,000) over a year with 20
clusters, the search index is synced once, the database analysed (and PostgreSQL vacuumed,
as its autovacuum would a live archive), and the desk is served on a loopback port
with its clock at the archive's end. Each row is timed over 30 requests after 3 warm-ups
(p50, p95; target p95 < 300 ms): the overview ``/``, a cluster page (default view), a
search page and ``/api/v1/search`` for a phrase with a cluster filter. Beside them, the
same work done in this process by the functions the CLI calls (``reports.trends``,
``reports.report``, ``archive.search``), timed the same way; "x CLI" is page / CLI.

Figures only, no asserts. ``--articles 100000`` to scale down, ``--db sqlite`` for one.
Run: ``.venv/bin/python bench/bench_desk.py --articles 100000``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn
from sqlalchemy import Engine

from archive.search import SearchFilters, cluster_rules, search
from archive.search_index import sync_search_index
from bench.archive import DAYS, START, clusters, generate, scratch_schema
from config.models import Config, StorageConfig
from mediawatch.web.app import create_app
from mediawatch.web.desk import Desk
from mediawatch.web.pages_cluster import DEFAULT_SINCE
from mediawatch.web.pages_overview import DAYS as OVERVIEW_DAYS
from reports.report import build_report
from reports.trends import Period, cluster_trends
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade

POSTGRES = os.environ.get(
    "MEDIAWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
END = START + timedelta(days=DAYS)
CLUSTER = "PMF"
QUERY = '"Interior Ministry"'
WARMUPS = 3
RUNS = 30
TARGET = 0.300


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[max(0, int(len(ordered) * 0.95) - 1)]


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """p50 and p95 of ``action`` over ``RUNS`` calls after ``WARMUPS``."""
    for _ in range(WARMUPS):
        action()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return percentiles(times)


@contextmanager
def serving(desk: Desk) -> Iterator[int]:
    """The desk on a free loopback port (uvicorn in a thread) until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(desk), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="bench-desk", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the desk did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def getter(port: int, path: str) -> Callable[[], bytes]:
    """A GET of ``path`` on a fresh connection, as a browser tab or curl makes it."""

    def get() -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status} {body[:200]!r}")
        return body

    return get


def settle(engine: Engine) -> None:
    """What a live archive's database does by itself after a bulk load: statistics, and
    on PostgreSQL a vacuum (autovacuum's, off on the test server), without which no
    index-only scan is possible (the visibility map is empty)."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def run(name: str, url: str, n: int) -> None:
    print(f"\n--- {name}: {n:,} articles ---", flush=True)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    generate(engine, n)
    factory = session_factory(engine)
    sync_search_index(factory)
    settle(engine)
    print(f"archive + search index: {time.perf_counter() - started:.0f}s", flush=True)

    config = Config(storage=StorageConfig(url=url), clusters=tuple(clusters()))
    desk = Desk(config, engine, now=lambda: END)
    watchlist, rules = config.watchlist(), cluster_rules(config.clusters)
    names = [c.name for c in config.clusters]
    bucket = config.detection.bucket
    today = END.replace(hour=0, minute=0, second=0, microsecond=0)
    fortnight = Period(today - timedelta(days=OVERVIEW_DAYS - 1), END, "day")
    month = Period(END - timedelta(days=int(DEFAULT_SINCE["day"][:-1])), END, "day")
    year = Period(START, END, "day")
    filters = SearchFilters(clusters=(CLUSTER,), limit=20)
    with factory() as session:
        hits = len(search(session, QUERY, watchlist, rules, filters).hits)

    def cli_search() -> object:
        sync_search_index(factory)
        with factory() as session:
            return search(session, QUERY, watchlist, rules, filters)

    def cli(action: Callable[..., object]) -> Callable[[], object]:
        def call() -> object:
            with factory() as session:
                return action(session)

        return call

    page_query = urlencode({"q": QUERY, "cluster": CLUSTER})
    rows: list[tuple[str, tuple[float, float], str | None]] = []
    with serving(desk) as port:
        for label, path, baseline in (
            ("page /", "/", "report 14d"),
            (f"page /clusters/{CLUSTER}", f"/clusters/{CLUSTER}", "report 30d html"),
            ("page /search", f"/search?{page_query}", "search"),
            ("GET /api/v1/search", f"/api/v1/search?{page_query}", "search"),
        ):
            rows.append((label, timed(getter(port, path)), baseline))
            print(f"  {label}: done", flush=True)
    baselines = {
        "report 14d": (
            "CLI report --since 14d (20 clusters)",
            cli(lambda s: cluster_trends(s, fortnight, names)),
        ),
        "report 30d html": (
            f"CLI report --cluster {CLUSTER} --since 30d --format html",
            cli(
                lambda s: build_report(s, month, [CLUSTER], END, detail=True, episode_bucket=bucket)
            ),
        ),
        "report year": (
            f"CLI report --cluster {CLUSTER} --since 365d",
            cli(lambda s: cluster_trends(s, year, [CLUSTER])),
        ),
        "search": (f"CLI search {QUERY} --cluster {CLUSTER}", cli_search),
    }
    figures = {key: timed(action) for key, (_, action) in baselines.items()}
    for key, (label, _) in baselines.items():
        rows.append((label, figures[key], None))

    print(f"search {QUERY} --cluster {CLUSTER}: {hits} hits (limit 20)")
    print(f"{'':58} {'p50 ms':>7} {'p95 ms':>7}  target  x CLI (p50)")
    for label, (p50, p95), against in rows:
        verdict = "ok" if p95 < TARGET else "OVER"
        ratio = f"{p50 / figures[against][0]:.1f}x" if against else ""
        print(f"{label:58} {p50 * 1000:7.0f} {p95 * 1000:7.0f}  {verdict:6}  {ratio}", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument(
        "--db", choices=["sqlite", "postgres", "postgresql", "both"], default="both"
    )
    arguments = parser.parse_args()
    n = arguments.articles
    if arguments.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="mw-bench-desk-") as folder:
            run("SQLite", f"sqlite:///{Path(folder) / 'archive.db'}", n)
    if arguments.db in ("postgres", "postgresql", "both"):
        with scratch_schema(POSTGRES, "mw_bench_desk") as url:
            if url is not None:
                run("PostgreSQL", url, n)


if __name__ == "__main__":
    main()
