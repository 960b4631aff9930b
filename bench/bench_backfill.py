"""Backfill: Telegram posts per second, a busy site's 90 days, and whether the detector
judges the day after a backfill as it would have with live history.

    .venv/bin/python -m bench backfill
    .venv/bin/python bench/bench_backfill.py [--posts 3000 --days 90 --per-day 50]

1. A local channel of ``--posts`` posts: the preview pages parsed in this process (posts/s,
   no network), then ``mediawatch backfill --no-gdelt`` walking it end to end in a
   subprocess (posts parsed and stored per second, pages, peak memory).
2. A busy site: ``--per-day`` articles a day for ``--days`` days behind a sitemap index by
   month, backfilled end to end (fetch, extract, dedupe, match, store): wall time,
   articles/s, peak memory of the backfill process.
3. The same articles stored "live" (the crawl's store, each fetched five minutes after it
   was published) in a second archive; one more day of identical live articles added to
   both; the detector's expected values and verdicts for that day compared.

Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.backfill_sites import DatedSitemaps, history_post, serve_history  # noqa: E402
from support.newsroom import Newsroom  # noqa: E402
from support.processes import Run, mediawatch  # noqa: E402
from support.telegram_pages import Channel, channels_config, render_channel  # noqa: E402

TOPICS = ("Peshmerga", "Interior Ministry", "Basra protests", "oil exports", "weather")
CLUSTERS = (
    '[[clusters]]\nname = "Interior Ministry"\nterms = ["Interior Ministry"]\n\n'
    '[[clusters]]\nname = "Basra"\nterms = ["Basra protests"]\n\n'
)


def _hour_weights() -> list[float]:
    """More news by day than by night (Baghdad time, UTC+3)."""
    local = [(h + 3) % 24 for h in range(24)]
    return [0.3 if hour < 7 else 1.5 if 9 <= hour < 14 else 1.0 for hour in local]


def _moments(rng: random.Random, day: datetime, count: int) -> list[datetime]:
    hours = rng.choices(range(24), weights=_hour_weights(), k=count)
    return sorted(day + timedelta(hours=h, minutes=rng.randrange(60)) for h in hours)


def _run(config: Path, *args: str) -> Run:
    run = mediawatch(config, *args, timeout=3600)
    if run.code != 0:
        print(run.err[-2000:])
    return run


def bench_channel(room: Newsroom, tmp: Path, posts: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    every = timedelta(days=80) / posts
    channel = Channel(
        "busy",
        "Busy",
        [
            history_post(i, now - (posts - i) * every - timedelta(hours=7))
            for i in range(1, posts + 1)
        ],
    )
    from spiders.parsing.telegram import parse_channel_page

    pages = []
    before = None
    while True:
        html = render_channel(channel, room.base(), before)
        pages.append(html.encode())
        read = parse_channel_page(pages[-1], room.url("/s/busy"))
        if read.before is None:
            break
        before = read.before
    started = time.perf_counter()
    parsed = sum(len(parse_channel_page(body, room.url("/s/busy")).posts) for body in pages)
    parse_rate = parsed / (time.perf_counter() - started)
    log = serve_history(room, channel)
    (tmp / "tg").mkdir()
    config = channels_config(
        tmp / "tg" / "config.toml", room, ["busy"], '[backfill]\npage_interval = "1ms"\n'
    )
    _run(config, "init")
    run = _run(config, "backfill", "--no-gdelt", "--since", "90d")
    stored = _count(tmp / "tg" / "data" / "mediawatch.db")
    print(f"channel: {posts} posts on {len(pages)} pages")
    print(f"  parse only (in process):   {parse_rate:,.0f} posts/s")
    rate = stored / run.seconds
    print(
        f"  backfill end to end:       {stored} posts stored in {run.seconds:.1f}s = "
        f"{rate:,.0f} posts/s, {log.count()} pages, peak RSS {run.peak_mb:.0f} MB"
    )


def _count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute("select count(*) from articles").fetchone()[0])


def bench_site(room: Newsroom, tmp: Path, days: int, per_day: int) -> tuple[Path, datetime]:
    rng = random.Random(20191120)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    end = (now - timedelta(hours=6)).replace(minute=0, second=0)
    first = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0)
    site = DatedSitemaps(room, host=1)
    n = 0
    day = first
    while day < end:
        for when in _moments(rng, day, per_day):
            if when < end:
                topic = rng.choice(TOPICS)
                site.add(f"/news/{n}", f"{topic} report {n}", when)
                n += 1
        day += timedelta(days=1)
    site.serve()
    (tmp / "site").mkdir()
    extra = f'{CLUSTERS}[[sources]]\nname = "Busy site"\nurl = "{site.url}"\nkind = "sitemap"\n'
    config = channels_config(
        tmp / "site" / "config.toml", room, [], '[backfill]\npage_interval = "1ms"\n\n' + extra
    )
    _run(config, "init")
    run = _run(config, "backfill", "--no-gdelt", "--since", f"{days}d")
    stored = _count(tmp / "site" / "data" / "mediawatch.db")
    print(
        f"busy site: {n} articles over {days} days ({per_day}/day) behind a sitemap index by month"
    )
    rate = stored / run.seconds
    print(
        f"  backfill: {stored} stored in {run.seconds:.1f}s = {rate:.1f} articles/s, "
        f"peak RSS {run.peak_mb:.0f} MB"
    )
    return config, end


def bench_detector(config_path: Path, end: datetime, per_day: int) -> None:
    """The backfilled archive against one built live from the same articles."""
    from alerts.verdicts import EXTRA_HISTORY, judge
    from config.load import load_config
    from spiders.crawler.items import ArticleItem
    from spiders.crawler.store import ArticleStore
    from storage.engine import make_engine, session_factory

    config = load_config(config_path)
    backfilled = config.storage.url
    live_db = config_path.parent / "data" / "live.db"
    live = f"sqlite:///{live_db}"
    mediawatch(config_path, "init", env={"MEDIAWATCH_DB_URL": live})
    with sqlite3.connect(backfilled.removeprefix("sqlite:///")) as connection:
        rows = connection.execute(
            "select url, publisher, title, text, language, published_at from articles "
            "order by published_at"
        ).fetchall()
    items = [
        ArticleItem(
            url=u,
            source_name="Busy site",
            publisher=p,
            fetched_at=_at(t) or end,
            title=ti,
            text=tx,
            language=la,
            published_at=_at(t),
        )
        for u, p, ti, tx, la, t in rows
    ]
    rng = random.Random(7)
    next_day = [
        ArticleItem(
            url=f"http://127.0.0.2/next/{i}",
            source_name="Busy site",
            publisher="127.0.0.2",
            fetched_at=when,
            title=f"{topic} next {i}",
            text=f"{topic} next day {i} " + _words(rng),
            language="en",
            published_at=when,
        )
        for i, (when, topic) in enumerate(
            (when, rng.choice(TOPICS)) for when in _moments(rng, end, per_day)
        )
    ]
    burst = end + timedelta(hours=14)  # a real spike that day: both archives should see it
    next_day += [
        ArticleItem(
            url=f"http://127.0.0.{1 + i % 3}/burst/{i}",
            source_name="Busy site",
            publisher=f"127.0.0.{1 + i % 3}",
            fetched_at=burst,
            title=f"Basra protests {i}",
            text=f"Basra protests spread {i} " + _words(rng),
            language="en",
            published_at=burst + timedelta(minutes=2 * i),
        )
        for i in range(15)
    ]
    next_day.sort(key=lambda item: item.published_at or end)
    judged = {}
    archives = (("backfilled", backfilled, next_day), ("live", live, items + next_day))
    for name, url, stream in archives:
        engine = make_engine(url)
        factory = session_factory(engine)
        clock = LiveClock(end)
        store = ArticleStore(factory, config.watchlist(), clock)
        for item in stream:
            clock.now = (item.published_at or end) + timedelta(minutes=5)
            store.add(replace(item, fetched_at=clock.now))
        store.close()
        with factory() as session:
            until = end + timedelta(days=1)
            since = until - config.detection.history - EXTRA_HISTORY
            judged[name] = judge(session, config, since, until)
        engine.dispose()
    a, b = judged["backfilled"], judged["live"]
    day = slice(a.grid.length - 24, a.grid.length)
    print("detector, the day after the backfill (24 hourly buckets per cluster):")
    for cluster, row in a.rows.items():
        ea, eb = a.result.expected[row, day], b.result.expected[row, day]
        sa, sb = a.result.spike[row, day], b.result.spike[row, day]
        diff = float(np.max(np.abs(ea - eb)))
        print(
            f"  {cluster:18s} expected/bucket {float(np.mean(ea)):6.2f} (backfilled) vs "
            f"{float(np.mean(eb)):6.2f} (live), max |diff| {diff:.3f}; spikes {int(sa.sum())} vs "
            f"{int(sb.sum())}, verdicts differing {int(np.sum(sa != sb))}/24"
        )


def _words(rng: random.Random) -> str:
    return " ".join(rng.choice(TOPICS) for _ in range(30))


class LiveClock:
    """The time a live crawl would have stored each article at."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=50)
    args = parser.parse_args()
    room = Newsroom().start()
    try:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            bench_channel(room, tmp, args.posts)
            config, end = bench_site(room, tmp, args.days, args.per_day)
            bench_detector(config, end, args.per_day)
    finally:
        room.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
