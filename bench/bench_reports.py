"""Reports, search and rematch over a synthetic archive, on SQLite and PostgreSQL.

``bench.archive`` writes N articles (default 1,000,000) over a year with 20 clusters;
then, per database:

- search index build (normalise + full-text index) per 100k articles;
- a daily report of all clusters over the year (targets: < 1 s on SQLite at 1M),
  against a naive baseline that reads every mention row into Python and counts there;
- searches of a phrase with a cluster filter, p50/p95 (target p95 < 300 ms on SQLite
  at 1M), against a naive matcher scan of the newest articles (extrapolated to N);
- rematch per 100k articles (the newest ~100k); database size per million articles.

Figures only, no asserts. ``--articles 200000`` to scale down, ``--db sqlite`` for one.
Run: ``.venv/bin/python bench/bench_reports.py --articles 200000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, func, select, text

from archive.rematch import rematch
from archive.search import SearchFilters, cluster_rules, search
from archive.search_index import sync_search_index
from bench.archive import CLUSTER_TERMS, DAYS, START, clusters, generate, scratch_schema
from reports.trends import Period, cluster_trends
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.models import Article, Mention
from watchlist.matcher import Watchlist
from watchlist.mentions import matchable_text

POSTGRES = os.environ.get("MEDIAWATCH_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
SEARCHES = [
    ('"Interior Ministry"', "PMF"),
    ('"Popular Mobilization Forces"', "Interior Ministry"),
    ('"Qassem Soleimani"', "Hezbollah"),
    ('"الحشد الشعبي"', "Interior Ministry"),
    ('"US troops"', "Drones"),
    ('"Islamic State"', "Peshmerga"),
    ('"Kurdistan Region"', "Oil"),
    ('"Hadi al-Amiri"', "PMF"),
]
NAIVE_SCAN = 50_000


def timed(action: Callable[[], object], repeat: int = 1) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return times, result


def naive_report(engine: Engine) -> int:
    """Every mention row into Python, counted there (what a report without SQL does)."""
    stories: Counter[tuple[str, object]] = Counter()
    seen: set[tuple[str, object, int]] = set()
    with engine.connect() as connection:
        for cluster, seen_at, story in connection.execute(
            select(Mention.cluster, Mention.seen_at, Mention.story_id)
        ):
            key = (cluster, seen_at.date() if hasattr(seen_at, "date") else seen_at[:10], story)
            if key not in seen:
                seen.add(key)
                stories[key[:2]] += 1
    return len(stories)


def naive_search(engine: Engine, watchlist: Watchlist, query: str, limit: int) -> int:
    """The matcher over the newest ``limit`` articles, no index."""
    found = 0
    with engine.connect() as connection:
        for title, body, summary in connection.execute(
            select(Article.title, Article.text, Article.summary)
            .order_by(Article.seen_at.desc())
            .limit(limit)
        ):
            found += watchlist.query_matches(query, matchable_text(body, summary), title or "")
    return found


def database_size(engine: Engine, path: Path | None) -> int:
    if path is not None:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
                )
            ).scalar_one()
        )


def run(name: str, url: str, n: int, sqlite_path: Path | None) -> None:
    print(f"\n--- {name}: {n:,} articles ---", flush=True)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    timings = generate(engine, n)
    total = time.perf_counter() - started
    parts = ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
    print(f"generate: {total:.0f}s ({parts})", flush=True)
    factory = session_factory(engine)
    index_time, _ = timed(lambda: sync_search_index(factory))
    print(f"search index build: {index_time[0]:.1f}s = {index_time[0] / n * 1e5:.1f}s per 100k")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    size = database_size(engine, sqlite_path)
    print(f"database size: {size / 1e6:.0f} MB = {size / n * 1e6 / 1e9:.2f} GB per million")

    names = [name for name, _ in CLUSTER_TERMS]
    period = Period(START, START + timedelta(days=DAYS), "day")
    with factory() as session:
        report_times, rows = timed(lambda: cluster_trends(session, period, names), repeat=3)
    naive_times, _ = timed(lambda: naive_report(engine))
    best = min(report_times)
    print(
        f"daily report, {len(names)} clusters x {DAYS} days ({len(rows):,} rows): "  # type: ignore[arg-type]
        f"{best * 1000:.0f} ms (median {statistics.median(report_times) * 1000:.0f} ms); "
        f"naive Python count {naive_times[0]:.2f}s = {naive_times[0] / best:.1f}x slower"
    )

    watchlist = Watchlist(clusters())
    rules = cluster_rules(clusters())
    latencies, found = [], []
    with factory() as session:
        for _ in range(3):
            for query, cluster in SEARCHES:
                filters = SearchFilters(clusters=(cluster,), limit=20)
                spent, result = timed(
                    lambda q=query, f=filters: search(session, q, watchlist, rules, f)
                )
                latencies.append(spent[0])
                found.append(len(result.hits))  # type: ignore[attr-defined]
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    sample = min(n, NAIVE_SCAN)
    naive, _ = timed(
        lambda: naive_search(engine, watchlist, '"Interior Ministry" AND @PMF', sample)
    )
    extrapolated = naive[0] * n / sample
    print(
        f"search phrase + cluster, limit 20 ({len(latencies)} runs, {sum(found) / len(found):.0f}"
        f" hits avg): p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; naive matcher scan "
        f"{naive[0]:.2f}s per {sample:,} articles, ~{extrapolated:.0f}s for all "
        f"= ~{extrapolated / p95:.0f}x the p95"
    )

    with factory() as session:
        ids = list(
            session.scalars(
                select(Article.seen_at)
                .order_by(Article.id.desc())
                .limit(1)
                .offset(min(n, 100_000) - 1)
            )
        )
        since = ids[0]
        newest = session.scalar(select(func.count()).where(Article.seen_at >= since))
    spent, result = timed(lambda: rematch(factory, watchlist, since=since))
    checked = result.checked  # type: ignore[attr-defined]
    print(
        f"rematch: {checked:,} articles in {spent[0]:.1f}s = {spent[0] / checked * 1e5:.1f}s "
        f"per 100k ({result.changed} changed; {newest:,} in window)"  # type: ignore[attr-defined]
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    arguments = parser.parse_args()
    n = arguments.articles
    if arguments.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="mw-bench-") as folder:
            path = Path(folder) / "archive.db"
            run("SQLite", f"sqlite:///{path}", n, path)
    if arguments.db in ("postgres", "both"):
        with scratch_schema(POSTGRES, "mw_bench") as url:
            if url is not None:
                run("PostgreSQL", url, n, None)


if __name__ == "__main__":
    main()
