"""kill -9 of a crawl or of the service mid-run: after a restart no published article is
lost and none is stored twice. Real processes, a real local newsroom, a real database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.newsroom import Article, Feed, Newsroom
from support.processes import start_mediawatch, stop, wait_for

pytestmark = pytest.mark.slow

ARTICLES = 24
WORDS = [
    "militia",
    "ministry",
    "Baghdad",
    "parliament",
    "convoy",
    "budget",
    "election",
    "council",
    "governor",
    "border",
    "drone",
    "statement",
    "commander",
    "faction",
    "protest",
    "checkpoint",
    "pipeline",
    "province",
    "ceasefire",
    "negotiation",
    "envoy",
    "reform",
    "minister",
    "court",
    "report",
    "tribe",
    "harbour",
    "refinery",
    "airport",
]


def _story(n: int) -> Article:
    # Distinct wording per story so the near-duplicate check keeps them apart.
    rng = [WORDS[(n * 7 + i * (n % 5 + 3)) % len(WORDS)] for i in range(120)]
    paragraphs = [
        f"Story {n}: "
        + " ".join(f"{w}{(n * 31 + i) % 97}" for i, w in enumerate(rng[j : j + 40]))
        + "."
        for j in range(0, 120, 40)
    ]
    return Article(
        host=n % 3,
        path=f"/news/story-{n}.html",
        title=f"Number {n} in a series of distinct reports from Iraq today",
        paragraphs=paragraphs,
        published=datetime.now(UTC) - timedelta(minutes=n),
    )


@pytest.fixture
def slow_room() -> Newsroom:
    room = Newsroom().start()
    articles = [_story(n) for n in range(ARTICLES)]
    for article in articles:
        room.add_article(article)
        slow = lambda _r, a=article: replace(room._article_reply(a), delay=0.4)  # noqa: E731
        room.route(article.path, slow, article.host)
    room.add_feed(Feed(0, "/feed.xml", "rss", "Wire", articles))
    yield room
    room.stop()


@pytest.fixture
def setup(tmp_path: Path, slow_room: Newsroom, cli):  # type: ignore[no-untyped-def]
    db = tmp_path / "mw.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n'
        '[crawl]\nallow_private_networks = true\nobey_robots = false\ndelay = "0s"\n'
        'concurrency_per_domain = 1\nmin_interval = "1m"\n'
        '[service]\ntick = "1s"\n'
        f'[[sources]]\nname = "Wire"\nurl = "{slow_room.url("/feed.xml")}"\nevery = "1m"\n'
    )
    assert cli("--config", str(config), "init").code == 0
    return config, db


def stored(db: Path) -> list[str]:
    with sqlite3.connect(db, timeout=30) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM articles")]


def crawl_children(pid: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", "mediawatch.*crawl --due"], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split() if int(p) != pid]


def start_service(config: Path) -> subprocess.Popen[str]:
    return start_mediawatch(config, "run", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def assert_each_article_once(db: Path, room: Newsroom) -> None:
    urls = stored(db)
    expected = {room.url(f"/news/story-{n}.html", n % 3) for n in range(ARTICLES)}
    assert len(urls) == len(set(urls)), "nothing stored twice"
    assert set(urls) == expected, f"missing: {sorted(expected - set(urls))[:3]}"


def test_kill_9_of_a_crawl_mid_run_loses_and_doubles_nothing(setup, slow_room) -> None:  # type: ignore[no-untyped-def]
    config, db = setup
    service = start_service(config)
    try:
        assert wait_for(lambda: slow_room.article_hits() >= 6), "the crawl is fetching pages"
        children = crawl_children(service.pid)
        assert children, "a crawl subprocess is running"
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        assert len(stored(db)) < ARTICLES, "killed mid-run"
        assert wait_for(lambda: len(stored(db)) == ARTICLES, timeout=90), "the next tick finished"
        assert service.poll() is None, "the service survived its crawl being killed"
    finally:
        stop(service)
    assert_each_article_once(db, slow_room)


def test_kill_9_of_the_service_mid_crawl_then_restart(setup, slow_room) -> None:  # type: ignore[no-untyped-def]
    config, db = setup
    service = start_service(config)
    assert wait_for(lambda: slow_room.article_hits() >= 6), "the crawl is fetching pages"
    service.kill()
    service.wait(timeout=30)
    assert wait_for(lambda: not crawl_children(service.pid), timeout=60), "the crawl ended too"
    assert len(stored(db)) < ARTICLES, "killed mid-run"
    restarted = start_service(config)
    try:
        assert wait_for(lambda: len(stored(db)) == ARTICLES, timeout=90)
    finally:
        stop(restarted)
    assert restarted.returncode == 0
    assert_each_article_once(db, slow_room)
