"""``mediawatch backfill``: the GDELT article list walked in windows (pure parts first), then
end to end against a local GDELT-shaped server and the local newsroom, in subprocesses."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.backfill_sites import WORDS
from support.gdelt_server import GdeltServer, Listed, Scripted
from support.newsroom import Article, Newsroom, Reply, html_escape, page
from support.processes import Run, mediawatch, start_mediawatch, wait_for

from spiders.backfill.gdelt import (
    MAX_RECORDS,
    SMALLEST_WINDOW,
    Window,
    artlist_params,
    cluster_query,
    parse_artlist,
    parse_seendate,
    windows,
)
from spiders.backfill.ledger import still_to_do
from spiders.backfill.run import plan

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1)

# ---- pure parts ----------------------------------------------------------------------


def test_windows_cover_the_span_day_by_day_and_halve_exactly() -> None:
    cut = windows(T0, T0 + timedelta(days=2, hours=6), DAY)
    assert [(w.start, w.end) for w in cut] == [
        (T0, T0 + DAY),
        (T0 + DAY, T0 + 2 * DAY),
        (T0 + 2 * DAY, T0 + timedelta(days=2, hours=6)),
    ]
    first, second = cut[0].halves()
    assert (first.start, first.end, second.end) == (T0, T0 + timedelta(hours=12), T0 + DAY)
    assert not Window(T0, T0 + SMALLEST_WINDOW).splittable


def test_the_plan_is_the_same_within_the_hour_and_stays_within_reach() -> None:
    now = datetime(2026, 11, 30, 14, 20)
    assert plan(now, timedelta(days=30)) == plan(now + timedelta(minutes=30), timedelta(days=30))
    far = plan(now, timedelta(days=400))
    assert far[0].start >= now - timedelta(days=90)
    assert far[-1].end == datetime(2026, 11, 30, 14)
    # What the detector still judges as new (its lookback) is left to the live crawl.
    assert plan(now, timedelta(days=3), timedelta(hours=6))[-1].end == datetime(2026, 11, 30, 8)


def test_a_rerun_asks_only_for_what_no_finished_window_covers() -> None:
    planned = windows(T0, T0 + 3 * DAY, DAY)
    halves = planned[1].halves()
    assert still_to_do(planned, [planned[0], *halves]) == [planned[2]]
    later = windows(T0 + timedelta(hours=5), T0 + 3 * DAY + timedelta(hours=5), DAY)
    assert still_to_do(later, planned) == [Window(T0 + 3 * DAY, T0 + 3 * DAY + timedelta(hours=5))]


def test_cluster_terms_become_quoted_phrases_ored_in_parentheses() -> None:
    assert cluster_query(["Peshmerga"]) == '"Peshmerga"'
    assert cluster_query(['Interior "Ministry"', "وزارة الداخلية", "IS"]) == (
        '("Interior Ministry" OR "وزارة الداخلية")'
    )
    assert cluster_query(["Peshmerga"], "rudaw.net") == '"Peshmerga" domain:rudaw.net'
    assert cluster_query(["IS", '""', " "]) is None  # nothing GDELT can search for
    many = cluster_query([f"term number {i}" for i in range(100)])
    assert many is not None and len(many) <= 250 and many.endswith('")')


def test_the_request_is_shaped_like_gdelts() -> None:
    params = artlist_params('"Peshmerga"', Window(T0, T0 + DAY))
    assert params == {
        "query": '"Peshmerga"',
        "mode": "artlist",
        "format": "json",
        "maxrecords": str(MAX_RECORDS),
        "sort": "dateasc",
        "startdatetime": "20261101000000",
        "enddatetime": "20261102000000",
    }


def test_the_artlist_answer_is_read_and_hostile_answers_are_results() -> None:
    body = json.dumps(
        {
            "articles": [
                {
                    "url": "https://www.rudaw.net/english/a",
                    "url_mobile": "",
                    "title": "Peshmerga ",
                    "seendate": "20191120T154500Z",
                    "socialimage": "",
                    "domain": "rudaw.net",
                    "language": "English",
                    "sourcecountry": "Iraq",
                },
                {"title": "no url"},
                {"url": "https://x.example/b", "seendate": "yesterday"},
                "junk",
            ]
        }
    ).encode()
    listed = parse_artlist(body)
    assert listed.error is None
    assert [(a.url, a.title, a.seen) for a in listed.articles] == [
        ("https://www.rudaw.net/english/a", "Peshmerga", datetime(2019, 11, 20, 15, 45)),
        ("https://x.example/b", "", None),
    ]
    assert len(listed.problems) == 3
    assert parse_artlist(b"{}").articles == ()
    assert parse_artlist(b"").error is None
    assert "not JSON" in (parse_artlist(b"The specified phrase is too short.").error or "")
    assert parse_artlist(b"[1, 2]").error
    assert parse_artlist(b'{"articles": 3}').error
    assert parse_seendate("20191320T154500Z") is None  # month 13
    assert parse_seendate(20191120) is None


# ---- end to end ----------------------------------------------------------------------


@dataclass
class Setup:
    room: Newsroom
    gdelt: GdeltServer
    config: Path
    db: Path

    def backfill(self, *args: str) -> Run:
        run = mediawatch(self.config, "backfill", "--format", "json", *args)
        assert run.code == 0, run.err[-3000:]
        return run

    def stored(self) -> dict[str, dict[str, object]]:
        run = mediawatch(self.config, "export", "--format", "jsonl")
        assert run.code == 0, run.err[-3000:]
        rows = [json.loads(line) for line in run.out.splitlines()]
        return {str(row["url"]): row for row in rows}

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as connection:
            return connection.execute(sql).fetchall()


@pytest.fixture
def setup(tmp_path: Path) -> object:
    room = Newsroom().start()
    gdelt = GdeltServer().start()
    db = tmp_path / "data" / "mediawatch.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n'
        '[crawl]\nallow_private_networks = true\ntimeout = "2s"\ndelay = "1ms"\n'
        "concurrency_per_domain = 8\n\n"
        f'[backfill]\ngdelt_url = "{gdelt.url}"\ngdelt_interval = "1ms"\n\n'
        '[[clusters]]\nname = "Peshmerga"\nterms = ["Peshmerga"]\n\n'
        f'[[sources]]\nname = "Newsroom"\nurl = "{room.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    assert mediawatch(config, "init").code == 0
    yield Setup(room, gdelt, config, db)
    gdelt.stop()
    room.stop()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _article(room: Newsroom, path: str, title: str, published: datetime, host: int = 0) -> str:
    """A page of its own words (drawn from ``path``), so no two are near-duplicates."""
    draw = random.Random(path)
    paragraphs = [
        f"{title}. Peshmerga " + " ".join(draw.choice(WORDS) for _ in range(40)) + "."
        for _ in range(3)
    ]
    return room.add_article(Article(host, path, title, paragraphs, published=published))


def _undated_page(room: Newsroom, path: str, title: str, host: int = 1) -> str:
    text = " ".join(
        f"Peshmerga commanders met tribal leaders for the {n}th time to discuss the road "
        "between Sinjar and Duhok, which has been closed since the floods."
        for n in range(4, 12)
    )
    room.route(
        path,
        page(
            f"<html><head><title>{html_escape(title)}</title></head><body><article>"
            f"<h1>{html_escape(title)}</h1><p>{html_escape(text)}</p><p>{html_escape(text)}</p>"
            "</article></body></html>"
        ),
        host,
    )
    return room.url(path, host)


@pytest.mark.slow
def test_backfill_stores_real_dates_and_a_rerun_asks_for_no_finished_window(setup: Setup) -> None:
    now = _now()
    dated_at = now - timedelta(days=10, hours=3)
    dated = _article(setup.room, "/news/peshmerga-talks", "Peshmerga talks resume", dated_at)
    undated = _undated_page(setup.room, "/story/42", "Peshmerga commanders meet tribal leaders")
    seen = now - timedelta(days=20, hours=2)
    setup.gdelt.articles += [
        Listed(dated, "Peshmerga talks resume", dated_at + timedelta(hours=2)),
        Listed(undated, "Peshmerga commanders meet tribal leaders", seen),
        Listed("http://127.0.0.1:9/gone", "Peshmerga old story", now - timedelta(days=200)),
    ]

    first = json.loads(setup.backfill("--since", "30d").out)
    clusters = {row["cluster"]: row for row in first if row["cluster"]}
    sources = {row["source"]: row for row in first if row["source"]}
    assert clusters["Peshmerga"]["articles"] == 2
    assert clusters["Peshmerga"]["errors"] == 0
    assert sources["Newsroom"]["new"] == 1  # the configured source of that site
    assert sources["gdelt"]["new"] == 1  # a site no source covers
    stored = setup.stored()
    assert stored[dated]["published_at"].startswith(dated_at.isoformat())  # type: ignore[union-attr]
    assert stored[undated]["published_at"].startswith(seen.isoformat())  # type: ignore[union-attr]
    assert all(q["maxrecords"] == "250" for q in setup.gdelt.queries)
    last_end = max(q["enddatetime"] for q in setup.gdelt.queries)

    setup.gdelt.reset()
    hits = setup.room.article_hits()
    second = json.loads(setup.backfill("--since", "30d").out)
    assert all(q["startdatetime"] >= last_end for q in setup.gdelt.queries)  # only a new tail
    assert sum(int(row["new"] or 0) for row in second) == 0
    assert setup.room.article_hits() == hits
    assert len(setup.stored()) == 2


@pytest.mark.slow
def test_a_full_window_is_split_until_everything_is_listed(setup: Setup) -> None:
    start = (_now() - timedelta(days=3)).replace(hour=6, minute=0, second=0)
    for n in range(MAX_RECORDS + 10):
        url = f"http://127.0.0.1:9/wire/{n}"
        setup.gdelt.articles.append(
            Listed(url, f"Peshmerga wire {n}", start + timedelta(minutes=n))
        )
    rows = json.loads(setup.backfill("--since", "5d").out)
    assert rows[0]["articles"] == MAX_RECORDS + 10
    assert any(
        q["enddatetime"][8:] != "000000" and q["startdatetime"][8:] == "000000"
        for q in setup.gdelt.queries
    )  # a day was halved


@pytest.mark.slow
def test_a_429_is_waited_out(setup: Setup) -> None:
    now = _now()
    url = _article(setup.room, "/news/p1", "Peshmerga deploy", now - timedelta(days=1, hours=2))
    setup.gdelt.articles.append(Listed(url, "Peshmerga deploy", now - timedelta(days=1, hours=2)))
    setup.gdelt.script(Scripted(429, b"Please limit requests", {"Retry-After": "1"}))
    run = setup.backfill("--since", "3d")
    assert "mediawatch: backfill:" not in run.err
    assert run.seconds >= 1.0
    assert setup.gdelt.queries[0] == setup.gdelt.queries[1]  # the same window, asked again
    assert url in setup.stored()


@pytest.mark.slow
def test_hostile_answers_are_one_error_line_per_window(setup: Setup) -> None:
    now = _now()
    url = _article(setup.room, "/news/odd", "Peshmerga odd date", now - timedelta(days=2))
    setup.gdelt.script(
        Scripted(200, b"<html>Your query was too short or too long.</html>"),
        Scripted(200, json.dumps({"articles": [{"title": "no url"}]}).encode()),
        Scripted(200, json.dumps({"articles": [{"url": url, "seendate": "2 days ago"}]}).encode()),
    )
    run = setup.backfill("--since", "3d")
    lines = [line for line in run.err.splitlines() if line.startswith("mediawatch: backfill:")]
    assert any("not JSON" in line for line in lines)
    assert any("without a usable url" in line for line in lines)
    assert any("unreadable seendate" in line for line in lines)
    assert url in setup.stored()  # its page dates it
    failed = setup.gdelt.queries[0]
    last_end = max(q["enddatetime"] for q in setup.gdelt.queries)
    setup.gdelt.reset()
    setup.backfill("--since", "3d")
    assert setup.gdelt.queries[0] == failed  # the failed window stays to do
    assert all(q["startdatetime"] >= last_end for q in setup.gdelt.queries[1:])


@pytest.mark.slow
def test_a_backfilled_burst_opens_no_episode(setup: Setup) -> None:
    burst = _now() - timedelta(days=30)
    for n in range(30):
        when = burst + timedelta(minutes=2 * n)
        url = _article(setup.room, f"/burst/{n}", f"Peshmerga clash report {n}", when, host=n % 3)
        setup.gdelt.articles.append(Listed(url, f"Peshmerga clash report {n}", when))
    rows = json.loads(setup.backfill("--since", "40d").out)
    assert sum(int(row["new"] or 0) for row in rows) == 30
    assert mediawatch(setup.config, "detect").code == 0
    assert setup.rows("select count(*) from alert_episodes") == [(0,)]
    assert setup.rows("select count(*) from alert_outbox") == [(0,)]


@pytest.mark.slow
def test_source_limits_the_query_to_its_site_and_no_gdelt_asks_nothing(setup: Setup) -> None:
    now = _now()
    url = _article(setup.room, "/news/p2", "Peshmerga pay", now - timedelta(days=1, hours=3))
    setup.gdelt.articles.append(Listed(url, "Peshmerga pay", now - timedelta(days=1, hours=3)))
    rows = json.loads(setup.backfill("--since", "2d", "--source", "Newsroom").out)
    assert all(q["query"] == '"Peshmerga" domain:127.0.0.1' for q in setup.gdelt.queries)
    assert [(r["source"], r["new"]) for r in rows if r["source"]] == [("Newsroom", 1)]
    setup.gdelt.reset()
    quiet = setup.backfill("--since", "2d", "--no-gdelt")
    assert "nothing to backfill" in quiet.err
    assert setup.gdelt.queries == []
    unknown = mediawatch(setup.config, "backfill", "--source", "Nowhere")
    assert unknown.code == 2
    assert "unknown source: Nowhere" in unknown.err


@pytest.mark.slow
def test_a_backfill_killed_mid_way_is_finished_by_the_next_run(setup: Setup) -> None:
    now = _now()
    urls = []
    for n in range(6):
        when = now - timedelta(days=n + 1, hours=1)
        url = _article(setup.room, f"/slow/{n}", f"Peshmerga slow {n}", when)
        article = setup.room.articles[(0, f"/slow/{n}")]
        setup.room.route(f"/slow/{n}", lambda _r, a=article: _slow(setup.room, a))
        setup.gdelt.articles.append(Listed(url, f"Peshmerga slow {n}", when))
        urls.append(url)
    process = start_mediawatch(
        setup.config,
        "backfill",
        "--since",
        "10d",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: setup.room.article_hits() >= 1, timeout=60)
    process.kill()  # kill -9, in the middle of fetching
    process.wait(timeout=30)
    assert setup.rows("select count(*) from backfill_windows") == [(0,)]

    setup.gdelt.reset()
    setup.backfill("--since", "10d")
    assert set(urls) <= set(setup.stored())
    last_end = max(q["enddatetime"] for q in setup.gdelt.queries)
    setup.gdelt.reset()
    setup.backfill("--since", "10d")
    assert all(q["startdatetime"] >= last_end for q in setup.gdelt.queries)  # only a new tail


def _slow(room: Newsroom, article: Article) -> Reply:
    from support.newsroom_render import render_article

    body = render_article(room, article).encode("utf-8")
    return Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8"}, delay=1.0)
