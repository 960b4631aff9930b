"""Alert latency: from an article's publication on the local newsroom to the alert email
arriving in a real SMTP sink, against the target of the source's poll interval plus 30 s.

    python -m bench latency                      # 20 bursts, sources polled every 1m
    python bench/bench_latency.py --bursts 3     # a smoke run (BENCH_BURSTS=3 also works)

Three publishers of the local newsroom (``tests/support/newsroom.py``, one loopback
address each) serve one RSS feed each; ``mediawatch run`` polls them every ``--interval``
(``[crawl] min_interval`` = ``max_interval``, so adaptive polling cannot move it), with the
default ``[service] tick``, 5-minute detection buckets and an email channel pointing at an
aiosmtpd sink (``tests/support/smtp_sink.py``). The quiet baseline goes the normal way: the
feeds first list ``--history-days`` of backdated articles (six per cluster per day), which
the service's first crawl stores (a source's first poll is backlog and opens nothing).
Then one burst per cluster (four new stories from each publisher, published "now") at
random moments ``--spacing`` apart on average, so bursts fall at every phase of the poll
cycle (bursts of different clusters may share a crawl, as real news does).

Latency = the email's arrival - the moment the burst appeared in the feeds. A burst without
an email within ``--timeout`` is reported missed. The breakdown comes from the service's
database and log: when the sources were next due at publication, the tick that started the
crawl, the poll's start and end (articles stored), the episode's ``opened_at`` and the
outbox's ``sent_at``. Prints figures, asserts nothing; the service, the servers and the
temporary folder are cleaned up, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.newsroom import Article, Feed, Newsroom  # noqa: E402
from support.processes import mediawatch, start_mediawatch, stop, wait_for  # noqa: E402
from support.smtp_sink import SmtpSink  # noqa: E402

from clock.durations import format_duration, parse_duration  # noqa: E402

_CODEWORDS = """Alder Birch Cedar Dogwood Elm Fir Ginkgo Hazel Ironwood Juniper Kapok Larch Maple
Nutmeg Oak Poplar Quince Rowan Spruce Tamarack Upas Viburnum Willow"""
_VOCABULARY = """
minister council border river village budget election committee report farmers market
police court hospital school water bridge road governor province army officials talks agreement
protest strike harvest drought power station port airport convoy checkpoint parliament session
vote law tax price fuel bread wheat oil gas pipeline contract company workers union teachers
doctors patients families children students museum library festival mosque church square street
district neighbourhood mayor judge lawyer witness evidence inquiry statement spokesman delegation
envoy summit treaty ceasefire refugees camp aid shipment trucks drivers weather storm flood heat
winter summer morning evening week month year north south east west central coastal rural urban
local national"""
CODEWORDS, WORDS = _CODEWORDS.split(), _VOCABULARY.split()
HISTORY_PER_DAY = 6
"""Stories per cluster per day in the quiet baseline."""
BURST_PER_PUBLISHER = 4
PER_FEED = 30
"""Entries a feed lists once the history is stored: a real feed scrolls."""
STAGES = "wait for due", "wait for tick", "crawl start", "poll + store", "detect", "deliver", "smtp"


@dataclass
class Burst:
    number: int
    cluster: str
    published: float = 0.0
    """Epoch seconds when the burst's articles appeared in the feeds."""
    due: float | None = None
    """When the sources were next due, read from the database at publication."""
    received: float | None = None

    @property
    def latency(self) -> float:
        return math.inf if self.received is None else self.received - self.published


def cluster_names(count: int) -> list[str]:
    return [
        f"Operation {CODEWORDS[i % len(CODEWORDS)]}{i // len(CODEWORDS) or ''}"
        for i in range(count)
    ]


def story(rng: random.Random, host: int, path: str, cluster: str, published: datetime) -> Article:
    """A story about ``cluster``, worded at random so that no two look like copies."""

    def words(count: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(count))

    def sentences() -> str:
        return " ".join(words(rng.randint(10, 18)).capitalize() + "." for _ in range(3))

    lead = f"{words(8).capitalize()} {cluster} {words(14)}."
    paragraphs = (lead, sentences(), sentences(), sentences())
    title = f"{cluster}: {words(6)} ({path})"
    return Article(
        host, path, title, paragraphs, published=published, author="Staff", summary=lead[:160]
    )


def config_toml(
    room: Newsroom, sink: SmtpSink, db: Path, clusters: list[str], args: argparse.Namespace
) -> str:
    every = format_duration(args.interval)
    sources = "".join(
        f'[[sources]]\nname = "Publisher {host}"\nurl = "{room.url("/feeds/latest.xml", host)}"\n'
        f'every = "{every}"\n\n'
        for host in range(len(room.hosts))
    )
    watchlist = "".join(f'[[clusters]]\nname = "{c}"\nterms = ["{c}"]\n\n' for c in clusters)
    return (
        f'[storage]\nurl = "sqlite:///{db}"\n\n'
        '[crawl]\nallow_private_networks = true\nobey_robots = false\ndelay = "0s"\n'
        f'concurrency_per_domain = 4\nmin_interval = "{every}"\nmax_interval = "{every}"\n\n'
        f'[detection]\nbucket = "5m"\n\n[service]\ntick = "{format_duration(args.tick)}"\n\n'
        f'[[alerts.channels]]\ntype = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {sink.port}\n'
        'from = "mediawatch@localhost"\nto = ["desk@localhost"]\n\n'
        f"{sources}{watchlist}"
    )


class Newsfeeds:
    """One RSS feed per publisher, listing its newest articles (all of them until
    ``scroll()``, then the newest ``PER_FEED``)."""

    def __init__(self, room: Newsroom) -> None:
        self.room = room
        self.feeds = [Feed(h, "/feeds/latest.xml", "rss", f"Publisher {h}", []) for h in range(3)]
        self.limit: int | None = None
        for feed in self.feeds:
            room.add_feed(feed)

    def publish(self, articles: list[Article]) -> None:
        for article in articles:
            self.room.add_article(article)
        for feed in self.feeds:
            mine = [a for a in self.room.articles.values() if a.host == feed.host]
            mine.sort(key=lambda a: a.published or datetime.min, reverse=True)
            feed.articles = mine[: self.limit]  # one assignment: the feed changes at once

    def scroll(self) -> None:
        self.limit = PER_FEED
        self.publish([])


def watch_sink(sink: SmtpSink, bursts: dict[str, Burst], done: threading.Event) -> None:
    """Stamp each burst with the arrival of its cluster's first alert email."""
    seen = 0
    while not done.is_set():
        messages = sink.messages
        for message in messages[seen:]:
            burst = bursts.get(str(message.get("X-Mediawatch-Cluster", "")))
            if burst is not None and burst.received is None:
                burst.received = time.time()
        seen = len(messages)
        time.sleep(0.02)


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def epoch(stored: object) -> float | None:
    """A naive-UTC timestamp as SQLite holds it, in epoch seconds."""
    if stored is None:
        return None
    return datetime.fromisoformat(str(stored)).replace(tzinfo=UTC).timestamp()


def crawl_starts(log: Path) -> list[float]:
    """When the service's tick found sources due and started a crawl (from its log)."""
    starts = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "scheduler.service" and "sources due" in entry.get("message", ""):
            starts.append(datetime.fromisoformat(entry["time"]).timestamp())
    return starts


def stages(db: Path, burst: Burst, ticks: list[float]) -> dict[str, float | None]:
    """Seconds spent in each step, from the service's database and log. Each moment is
    taken no earlier than the one before, so the stages add up to the latency (a crawl
    already running at publication counts as no wait)."""
    first = query(
        db,
        "SELECT fetched_at, source_id FROM articles WHERE url LIKE ? ORDER BY fetched_at LIMIT 1",
        f"%/bursts/{burst.number}/%",
    )
    fetched, source = first[0] if first else (None, None)
    poll = query(
        db,
        "SELECT started_at, finished_at FROM polls WHERE source_id = ? AND started_at <= ? "
        "ORDER BY started_at DESC LIMIT 1",
        source,
        fetched,
    )
    episode = query(
        db,
        "SELECT e.opened_at, o.sent_at FROM alert_episodes e JOIN alert_outbox o "
        "ON o.episode_id = e.id WHERE e.cluster = ? ORDER BY e.id LIMIT 1",
        burst.cluster,
    )
    started, stored = (epoch(poll[0][0]), epoch(poll[0][1])) if poll else (None, None)
    opened, sent = (epoch(episode[0][0]), epoch(episode[0][1])) if episode else (None, None)
    tick = max((t for t in ticks if started is not None and t <= started), default=None)
    moments: list[float | None] = [burst.published]
    for moment in (burst.due, tick, started, stored, opened, sent, burst.received):
        before = moments[-1]
        moments.append(None if moment is None or before is None else max(moment, before))
    return {
        name: (later - earlier if later is not None and earlier is not None else None)
        for name, earlier, later in zip(STAGES, moments[:-1], moments[1:], strict=True)
    }


def poll_gaps(db: Path) -> list[float]:
    """Seconds between consecutive polls of the same source."""
    rows = query(db, "SELECT source_id, started_at FROM polls ORDER BY source_id, started_at")
    return [
        b - a
        for (source, start), (later_source, later_start) in itertools.pairwise(rows)
        if source == later_source
        and (a := epoch(start)) is not None
        and (b := epoch(later_start)) is not None
    ]


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def seconds(value: float | None) -> str:
    return "-" if value is None else ("missed" if math.isinf(value) else f"{value:.1f}s")


def report(db: Path, log: Path, bursts: list[Burst], args: argparse.Namespace) -> None:
    target = args.interval.total_seconds() + 30
    ticks = crawl_starts(log)
    print(f"\n{'burst':<20} {'latency':>8}  " + "  ".join(f"{n:>13}" for n in STAGES))
    per_stage: dict[str, list[float]] = {}
    for burst in bursts:
        parts = stages(db, burst, ticks)
        row = "  ".join(f"{seconds(v):>13}" for v in parts.values())
        print(f"{burst.cluster:<20} {seconds(burst.latency):>8}  {row}")
        for name, value in parts.items():
            if value is not None and burst.received is not None:
                per_stage.setdefault(name, []).append(value)
    latencies = [burst.latency for burst in bursts]
    gaps = poll_gaps(db)
    every, tick = format_duration(args.interval), format_duration(args.tick)
    if gaps:
        print(
            f"\npoll interval {every}, service tick {tick}: a source was polled every "
            f"{seconds(statistics.median(gaps))} (median; max {seconds(max(gaps))})"
        )
    missed = sum(math.isinf(value) for value in latencies)
    print(
        f"bursts alerted: {len(bursts) - missed}/{len(bursts)}"
        f" ({missed} missed: no email within {format_duration(args.timeout)})"
    )
    p50, p95 = nearest_rank(latencies, 0.5), nearest_rank(latencies, 0.95)
    print(
        f"alert latency: p50 {seconds(p50)}, p95 {seconds(p95)}, max {seconds(max(latencies))}"
        " (nearest rank; a missed burst counts as infinite)"
    )
    verdict = "within" if p95 <= target else "OVER"
    print(f"target: poll interval + 30 s = {target:.0f}s; p95 {verdict} it ({p95 / target:.2f}x)")
    medians = (f"{name} {statistics.median(values):.1f}s" for name, values in per_stage.items())
    print("median per stage (alerted bursts): " + ", ".join(medians))
    if missed:
        problems = [line for line in log.read_text().splitlines() if '"level": "info"' not in line]
        print("service log, all but INFO (last 20 lines):\n" + "\n".join(problems[-20:]))


def seed_history(rng: random.Random, feeds: Newsfeeds, clusters: list[str], days: int) -> int:
    """Backdated stories, a few per cluster per day, spread over ``days`` to now."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    history = [
        story(
            rng,
            rng.randrange(3),
            f"/history/{n}.html",
            cluster,
            now - timedelta(seconds=rng.uniform(600, days * 86400)),
        )
        for n, cluster in enumerate(c for c in clusters for _ in range(days * HISTORY_PER_DAY))
    ]
    feeds.publish(history)
    return len(history)


def publish_bursts(
    rng: random.Random, feeds: Newsfeeds, bursts: list[Burst], db: Path, spacing: timedelta
) -> None:
    for burst in bursts:
        time.sleep(rng.uniform(0.5, 1.5) * spacing.total_seconds())
        moment = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        articles = [
            story(rng, host, f"/bursts/{burst.number}/{host}-{n}.html", burst.cluster, moment)
            for host in range(3)
            for n in range(BURST_PER_PUBLISHER)
        ]
        burst.due = epoch(query(db, "SELECT min(next_poll_at) FROM sources")[0][0])
        feeds.publish(articles)
        burst.published = time.time()
        print(f"{datetime.now():%H:%M:%S} published a burst of {burst.cluster}", flush=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    rng = random.Random(args.seed)
    clusters = cluster_names(args.bursts)
    room, sink = Newsroom().start(), SmtpSink()
    sink.start()
    db, config, log = tmp / "latency.db", tmp / "config.toml", tmp / "service.log"
    service: subprocess.Popen[str] | None = None
    done = threading.Event()
    try:
        feeds = Newsfeeds(room)
        history = seed_history(rng, feeds, clusters, args.history_days)
        config.write_text(config_toml(room, sink, db, clusters, args), encoding="utf-8")
        setup = mediawatch(config, "init")
        if setup.code != 0:
            raise SystemExit(f"mediawatch init failed: {setup.err[-2000:]}")
        with log.open("w") as out:
            service = start_mediawatch(
                config, "--log-format", "json", "run", stdout=out, stderr=out
            )
        began = time.monotonic()
        first_crawl = lambda: len(query(db, "SELECT DISTINCT source_id FROM polls")) >= 3  # noqa: E731
        if not wait_for(first_crawl, timeout=600):
            raise SystemExit("the first crawl did not end within 10 minutes")
        stored = query(db, "SELECT count(*) FROM articles")[0][0]
        print(
            f"baseline: {history} backdated stories ({args.history_days} days, {len(clusters)} "
            f"clusters), {stored} stored by the first crawl in {time.monotonic() - began:.0f}s"
        )
        feeds.scroll()
        bursts = [Burst(number, cluster) for number, cluster in enumerate(clusters)]
        by_cluster = {burst.cluster: burst for burst in bursts}
        threading.Thread(target=watch_sink, args=(sink, by_cluster, done), daemon=True).start()
        publish_bursts(rng, feeds, bursts, db, args.spacing)
        deadline = bursts[-1].published + args.timeout.total_seconds()
        while time.time() < deadline and any(burst.received is None for burst in bursts):
            time.sleep(0.5)
        stop(service, timeout=120)
        report(db, log, bursts, args)
    finally:
        done.set()
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        sink.stop()
        room.stop()


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--bursts", type=int, default=int(os.environ.get("BENCH_BURSTS", 20)))
    add("--interval", type=parse_duration, default=timedelta(minutes=1), help="poll interval")
    add("--tick", type=parse_duration, default=timedelta(seconds=30), help="[service] tick")
    add("--spacing", type=parse_duration, default=timedelta(seconds=36), help="between bursts")
    add("--timeout", type=parse_duration, default=timedelta(minutes=5), help="then missed")
    add("--history-days", type=int, default=3)
    add("--seed", type=int, default=16)
    args = parser.parse_args()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        try:
            run(args, Path(tmp))
        except KeyboardInterrupt:
            print("interrupted: the service, newsroom and SMTP sink are stopped", file=sys.stderr)
            raise SystemExit(130) from None


if __name__ == "__main__":
    main()
