"""``mediawatch backfill`` walking a source's own history: a Telegram channel's ``?before=``
pages and a sitemap index by month (pure parts first, then end to end against the local
newsroom, in subprocesses, with GDELT off)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.backfill_sites import DatedSitemaps, history_post, serve_history
from support.newsroom import Newsroom, Reply, page
from support.processes import Run, mediawatch, start_mediawatch, wait_for
from support.telegram_pages import Channel, channels_config

from clock.moments import EARLIEST_PLAUSIBLE
from spiders.backfill.gdelt import Window
from spiders.backfill.spans import (
    channel_step,
    child_period,
    first_move,
    next_move,
    source_span,
    wanted_child,
    wanted_entries,
)
from spiders.parsing.sitemaps import SitemapEntry
from spiders.parsing.telegram import ChannelPost

T0 = datetime(2026, 11, 1)
H = timedelta(hours=1)
D = timedelta(days=1)

# ---- pure parts ----------------------------------------------------------------------


def _post(post_id: int, when: datetime | None) -> ChannelPost:
    return ChannelPost("c", post_id, f"https://t.me/c/{post_id}", f"text {post_id}", when)


def test_the_span_ends_before_what_the_detector_still_judges() -> None:
    now = datetime(2026, 11, 30, 14, 20)
    span = source_span(now, timedelta(days=10), timedelta(hours=6))
    assert span == Window(datetime(2026, 11, 20), datetime(2026, 11, 30, 8))
    assert source_span(now + timedelta(minutes=30), timedelta(days=10), 6 * H) == span


def test_a_page_keeps_dated_posts_within_the_gaps_and_records_what_it_saw() -> None:
    span = Window(T0, T0 + 10 * D)
    posts = [
        _post(1, T0 - D),  # older than the span
        _post(2, T0 + D),
        _post(3, None),  # undated: would count as "now"
        _post(4, T0 + 9 * D),
        _post(5, T0 + 10 * D + H),  # too recent: the live crawl's
    ]
    step = channel_step(posts, 1, span.end, span, [span], T0 + 11 * D)
    assert [p.id for p in step.keep] == [2, 4]
    assert step.skipped == 3
    assert step.covered == span  # seen down to before the span's start, clipped
    assert next_move(step.lower, step.ended, [span]).stop


def test_the_channels_first_post_finishes_everything_older() -> None:
    span = Window(T0, T0 + 10 * D)
    step = channel_step([_post(1, T0 + 2 * D)], None, T0 + 5 * D, span, [span], T0 + 11 * D)
    assert step.ended and step.covered == Window(EARLIEST_PLAUSIBLE, T0 + 5 * D)
    short = channel_step([_post(1, T0 - D)], None, T0 + 5 * D, span, [span], T0 + 11 * D)
    assert short.covered == Window(T0, T0 + 5 * D)  # what is older than --since is not stored


def test_the_walk_goes_on_jumps_over_finished_stretches_and_stops() -> None:
    span = Window(T0, T0 + 10 * D)
    tail, old = Window(T0 + 8 * D, T0 + 10 * D), Window(T0, T0 + 3 * D)
    assert first_move(span, [old, tail]).jump_to is None  # a new tail: the newest page
    assert first_move(span, [old]).jump_to == T0 + 3 * D  # resume where it stopped
    assert first_move(span, []).stop
    assert next_move(T0 + 9 * D, False, [old, tail]) == next_move(T0 + 9 * D, False, [tail])
    assert next_move(T0 + 8 * D, False, [old, tail]).jump_to == T0 + 3 * D
    assert next_move(T0 + 2 * D, False, [old]).jump_to is None
    assert next_move(T0 + 2 * D, True, [old]).stop


def test_child_sitemaps_are_dated_by_their_names() -> None:
    assert child_period("https://x.example/sitemap-2026-11.xml") == Window(
        datetime(2026, 11, 1), datetime(2026, 12, 1)
    )
    assert child_period("https://x.example/sitemap-2026-12-31.xml") == Window(
        datetime(2026, 12, 31), datetime(2027, 1, 1)
    )
    assert child_period("https://x.example/2026/02/sitemap.xml") == Window(
        datetime(2026, 2, 1), datetime(2026, 3, 1)
    )
    assert child_period("https://x.example/sitemap.xml?yyyy=2026&mm=11&dd=29") == Window(
        datetime(2026, 11, 29), datetime(2026, 11, 30)
    )
    assert child_period("https://x.example/sitemap-posts-3.xml") is None
    assert child_period("https://x.example/sitemap-2026-02-30.xml") is None  # no such day
    gaps = [Window(datetime(2026, 10, 20), datetime(2026, 11, 29))]
    assert wanted_child(SitemapEntry("https://x.example/sitemap-2026-11.xml"), gaps)
    assert not wanted_child(SitemapEntry("https://x.example/sitemap-2026-09.xml"), gaps)
    old = SitemapEntry("https://x.example/sitemap-posts.xml", lastmod=datetime(2026, 9, 1))
    assert not wanted_child(old, gaps)  # unchanged since before the span


def test_sitemap_entries_are_taken_by_their_dates() -> None:
    gaps = [Window(T0, T0 + 10 * D)]
    entries = [
        SitemapEntry("https://x.example/a", lastmod=T0 + D),
        SitemapEntry("https://x.example/b", news_published=T0 + 2 * D, lastmod=T0 + 20 * D),
        SitemapEntry("https://x.example/c"),  # undated
        SitemapEntry("https://x.example/d", lastmod=T0 - D),
    ]
    kept, left = wanted_entries(entries, gaps)
    assert [e.loc for e in kept] == ["https://x.example/a", "https://x.example/b"] and left == 2


@given(st.text(max_size=120))
def test_any_child_url_gives_no_period_or_a_real_one(name: str) -> None:
    period = child_period(f"https://x.example/{name}")
    assert period is None or (period.start < period.end <= period.start + timedelta(days=31))


@given(
    st.lists(
        st.tuples(st.integers(1, 10_000), st.one_of(st.none(), st.integers(-400, 400))),
        max_size=30,
    ),
    st.one_of(st.none(), st.integers(1, 10_000)),
)
def test_a_page_never_keeps_what_is_outside_the_gaps(
    raw: list[tuple[int, int | None]], before: int | None
) -> None:
    span = Window(T0, T0 + 10 * D)
    gaps = [Window(T0, T0 + 2 * D), Window(T0 + 6 * D, T0 + 10 * D)]
    posts = [_post(i, None if h is None else T0 + h * H) for i, h in raw]
    step = channel_step(posts, before, span.end, span, gaps, T0 + 11 * D)
    assert all(p.published is not None and any(g.start <= p.published < g.end for g in gaps)
               for p in step.keep)  # fmt: skip
    assert step.skipped + len(step.keep) == len(posts)
    if step.covered is not None:
        assert step.covered.end == span.end and step.covered.start < step.covered.end


# ---- end to end ----------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Site:
    room: Newsroom
    config: Path
    db: Path

    def backfill(self, *args: str) -> Run:
        run = mediawatch(self.config, "backfill", "--no-gdelt", "--format", "json", *args)
        assert run.code == 0, run.err[-3000:]
        return run

    def stored(self) -> dict[str, dict[str, object]]:
        run = mediawatch(self.config, "export", "--format", "jsonl")
        assert run.code == 0, run.err[-3000:]
        return {str(r["url"]): r for r in map(json.loads, run.out.splitlines())}

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as connection:
            return connection.execute(sql).fetchall()


@pytest.fixture
def room() -> object:
    newsroom = Newsroom().start()
    yield newsroom
    newsroom.stop()


def _site(tmp_path: Path, room: Newsroom, channels: list[str], extra: str = "") -> Site:
    config = channels_config(
        tmp_path / "config.toml", room, channels, '[backfill]\npage_interval = "200ms"\n\n' + extra
    )
    site = Site(room, config, tmp_path / "data" / "mediawatch.db")
    assert mediawatch(config, "init").code == 0
    return site


def _history(name: str, base: datetime, every: timedelta, count: int) -> Channel:
    """``count`` posts, the newest 30 minutes past ``base``, one per ``every`` before it;
    none between 9 and 11.5 days back (where ``--since 10d`` cuts)."""
    posts = []
    for k in range(count):
        when = base + timedelta(minutes=30) - every * k
        if timedelta(days=9) <= base - when <= timedelta(days=11, hours=12):
            continue
        posts.append(history_post(count - k, when))
    return Channel(name, f"History {name}", sorted(posts, key=lambda p: p.id))


def _rows(run: Run) -> dict[str, dict[str, object]]:
    return {str(r["source"]): r for r in json.loads(run.out) if r["source"]}


@pytest.mark.slow
def test_a_channel_is_paged_back_to_since_with_real_times_politely(
    tmp_path: Path, room: Newsroom
) -> None:
    base = _now().replace(minute=0, second=0)
    channel = _history("hist", base, timedelta(hours=8), 60)
    channel.posts.append(history_post(1000, None))  # undated: never stored by a backfill
    log = serve_history(room, channel)
    site = _site(tmp_path, room, ["hist"])

    run = site.backfill("--since", "10d")
    stored = site.stored()
    expected = {
        room.url(f"/hist/{p.id}"): p
        for p in channel.posts
        if p.published and base - timedelta(days=9) < p.published < base - timedelta(hours=6)
    }
    assert set(stored) == set(expected)  # not the last 6 hours, not before --since
    for url, post in expected.items():
        assert post.published is not None
        assert stored[url]["published_at"] == post.published.isoformat() + "Z"
    row = _rows(run)["tg hist"]
    assert (row["new"], row["pages"], row["errors"]) == (len(expected), log.count(), 0)
    assert log.befores[0] is None and all(b is not None for b in log.befores[1:])
    assert log.count() < 4  # it stopped at --since, not at the channel's first post
    gaps = [b - a for a, b in zip(log.times, log.times[1:], strict=False)]
    assert all(gap >= 0.18 for gap in gaps), gaps  # one page per page_interval
    lines = [line for line in run.err.splitlines() if line.startswith("backfill: tg hist: page")]
    assert len(lines) == log.count() and "\r" not in run.err  # stderr is no terminal here

    again = site.backfill("--since", "10d")
    assert log.count() == len(gaps) + 1  # nothing left to ask
    assert _rows(again)["tg hist"]["note"] == "already done"


@pytest.mark.slow
def test_a_channel_walk_killed_mid_way_resumes_where_it_stopped(
    tmp_path: Path, room: Newsroom
) -> None:
    base = _now().replace(minute=0, second=0) - timedelta(days=1)
    channel = _history("slow", base, timedelta(hours=2), 100)  # 5 pages, 8.3 days
    log = serve_history(room, channel, delay=0.5)
    site = _site(tmp_path, room, ["slow"])
    process = start_mediawatch(
        site.config, "backfill", "--no-gdelt", "--since", "12d",
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert wait_for(lambda: log.count() >= 3, timeout=60)
    process.kill()  # kill -9 between pages
    process.wait(timeout=30)
    walked = log.befores[: log.count()]
    assert site.rows("select count(*) from backfill_windows where cluster = '@telegram'") >= [(1,)]
    before_rerun = len(site.stored())
    assert before_rerun >= 20

    site.backfill("--since", "12d")
    rerun = log.befores[len(walked) :]
    assert rerun and rerun[0] is not None and None not in rerun  # not from the newest page
    stored = site.stored()
    expected = {room.url(f"/slow/{p.id}") for p in channel.posts if p.published}
    assert set(stored) == expected
    assert site.rows("select count(*), count(distinct url) from articles") == [
        (len(expected), len(expected))
    ]
    assert len(walked) + len(rerun) <= 7  # at most one page asked twice


@pytest.mark.slow
def test_a_channel_that_ends_is_done_for_any_since(tmp_path: Path, room: Newsroom) -> None:
    base = _now().replace(minute=0, second=0) - timedelta(days=1)
    channel = Channel("small", "Small", [history_post(i, base - i * H) for i in range(1, 8)])
    log = serve_history(room, channel)
    site = _site(tmp_path, room, ["small"])
    first = _rows(site.backfill("--since", "30d"))["tg small"]
    assert (first["new"], first["note"]) == (7, "reached the channel's first post")
    site.backfill("--since", "90d")
    assert log.count() == 1


SitemapSite = tuple[Site, DatedSitemaps, dict[str, datetime]]


def _sitemap_site(tmp_path: Path, room: Newsroom, base: datetime, news: bool) -> SitemapSite:
    site_map = DatedSitemaps(room, news=news)
    dated: dict[str, datetime] = {}
    for k in range(0, 120, 3):  # one article every three days for four months
        when = base - timedelta(days=k, hours=2)
        dated[site_map.add(f"/news/{k}", f"Peshmerga report {k}", when)] = when
    dated[site_map.add("/news/fresh", "Peshmerga fresh report", base - H)] = base - H
    site_map.serve()
    extra = f'[[sources]]\nname = "Site"\nurl = "{site_map.url}"\nkind = "sitemap"\n'
    return _site(tmp_path, room, [], extra), site_map, dated


@pytest.mark.slow
@pytest.mark.parametrize("news", [False, True])
def test_a_sitemap_index_by_month_is_walked_within_since(
    tmp_path: Path, room: Newsroom, news: bool
) -> None:
    base = _now().replace(minute=0, second=0)
    site, site_map, dated = _sitemap_site(tmp_path, room, base, news)
    run = site.backfill("--since", "40d")
    start = (base - timedelta(hours=6) - timedelta(days=40)).replace(hour=0)
    wanted = {url for url, when in dated.items() if start <= when < base - timedelta(hours=6)}
    stored = site.stored()
    assert set(stored) == wanted
    for url in wanted:
        assert stored[url]["published_at"] == dated[url].isoformat() + "Z"
    old_months = [m for m in site_map.months if m < f"{start - timedelta(days=31):%Y-%m}"]
    assert old_months and all(room.hits(site_map.child_path(m)) == 0 for m in old_months)
    assert room.hits("/news/fresh") == 0  # within the detector's lookback: the live crawl's
    row = _rows(run)["Site"]
    assert (row["new"], row["errors"]) == (len(wanted), 0) and int(str(row["pages"])) >= 2

    room.reset_counts()
    again = site.backfill("--since", "40d")
    assert room.hits("/sitemap.xml") == 0 and room.article_hits() == 0
    assert _rows(again)["Site"]["note"] == "already done"


@pytest.mark.slow
def test_a_failed_child_sitemap_stays_to_do(tmp_path: Path, room: Newsroom) -> None:
    base = _now().replace(minute=0, second=0)
    site, site_map, _ = _sitemap_site(tmp_path, room, base, news=False)
    month = f"{base - timedelta(days=2):%Y-%m}"
    good = site_map.child_path(month)
    room.route(good, Reply(404, b"gone"))
    first = site.backfill("--since", "10d")
    assert _rows(first)["Site"]["errors"] == 1
    assert "mediawatch: backfill: Site:" in first.err and "HTTP 404" in first.err
    assert site.rows("select count(*) from backfill_windows") == [(0,)]
    site_map.serve()  # the child is back
    room.reset_counts()
    site.backfill("--since", "10d")
    assert room.hits(good) == 1
    assert all(room.hits(f"/news/{k}") <= 1 for k in range(0, 120, 3))


@pytest.mark.slow
def test_backfilled_bursts_open_no_episode(tmp_path: Path, room: Newsroom) -> None:
    burst = _now().replace(minute=0, second=0) - timedelta(days=3)
    names = ["one", "two", "three"]
    for n, name in enumerate(names):
        posts = [history_post(i, burst + timedelta(minutes=i + n)) for i in range(1, 16)]
        serve_history(room, Channel(name, f"Channel {name}", posts))
    site_map = DatedSitemaps(room, host=1)
    claims = [
        site_map.add(f"/claims/{i}", f"Peshmerga claim {i}", burst + i * H, page_date=_now() - H)
        for i in range(5)
    ]  # listed three days ago, the page says an hour ago (what the detector still judges)
    extra = f'[[sources]]\nname = "Site"\nurl = "{site_map.serve().url}"\nkind = "sitemap"\n'
    site = _site(tmp_path, room, names, extra)
    site.backfill("--since", "10d")
    stored = site.stored()
    assert len(stored) == 50  # forwards of one text: one story, three copies each
    for i, url in enumerate(claims):
        assert stored[url]["published_at"] == (burst + i * H).isoformat() + "Z"
    assert mediawatch(site.config, "detect").code == 0
    assert site.rows("select count(*) from alert_episodes") == [(0,)]
    assert site.rows("select count(*) from alert_outbox") == [(0,)]


@pytest.mark.slow
def test_hostile_channel_pages_are_error_lines_and_stay_to_do(
    tmp_path: Path, room: Newsroom
) -> None:
    huge = b"<html><body>" + b"<p>x</p>" * 400_000 + b"</body></html>"  # over the 2 MB cap
    room.route("/s/huge", Reply(body=huge, headers={"Content-Type": "text/html"}))
    room.route("/s/gone", page("<html><body><h1>If you have Telegram</h1></body></html>"))
    site = _site(tmp_path, room, ["huge", "gone"])
    run = site.backfill("--since", "10d")
    rows = _rows(run)
    assert rows["tg huge"]["errors"] == 1 and rows["tg gone"]["errors"] == 1
    assert "mediawatch: backfill: tg gone:" in run.err and "web preview" in run.err
    assert site.rows("select count(*) from backfill_windows") == [(0,)]
    room.reset_counts()
    site.backfill("--since", "10d")
    assert room.hits("/s/gone") == 1  # still to do


def test_progress_is_redrawn_in_place_on_a_terminal_and_a_line_per_step_elsewhere(
    tmp_path: Path,
) -> None:
    from mediawatch.cli.backfill_progress import ProgressLine
    from spiders.backfill.progress import Step

    steps = [Step("tg a", f"page {n}", n, 20 * n, T0 - n * D) for n in (1, 2)]
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as terminal:
        line = ProgressLine(terminal)
        for step in steps:
            line(step)
        line.close()
    drawn = os.read(leader, 4096).decode()
    os.close(leader)
    assert drawn.count("\r") >= 2 and "tg a: page 2 · 2 request(s) · 40 found" in drawn
    with (tmp_path / "err.txt").open("w+") as plain:
        line = ProgressLine(plain)
        for step in steps:
            line(step)
        line.close()
        plain.seek(0)
        written = plain.read()
    assert "\r" not in written
    assert written.splitlines() == [
        "backfill: tg a: page 1 · 1 request(s) · 20 found · back to 2026-10-31 00:00",
        "backfill: tg a: page 2 · 2 request(s) · 40 found · back to 2026-10-30 00:00",
    ]
