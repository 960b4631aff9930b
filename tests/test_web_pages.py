"""The desk's pages over a real server and an archive stored as the store stores it, on
SQLite and on PostgreSQL: each page shows what a user expects, hostile titles stay text,
Arabic reads right-to-left, the search page agrees with ``mediawatch search`` and the forms
change the database (with CSRF)."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select
from support.ports import free_port
from support.report_archive import CLUSTERS, Archive, config_toml, make_archive

from config.load import load_config
from mediawatch.web.app import create_app
from mediawatch.web.desk import Desk
from storage.engine import make_engine, session_factory, transaction
from storage.models import AlertEpisode, ClusterMute, Mention, Source
from watchlist.matcher import Watchlist

pytestmark = pytest.mark.slow

NOW = datetime(2026, 3, 10, 12, 0)
SCRIPT = "<script>alert(1)</script> PMF convoy"
IMG = "<img src=x onerror=alert(1)> PMF checkpoint"
ARABIC = "الحشد الشعبي يعلن انتشاره في بغداد"


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Browser:
    """urllib with a cookie jar, no redirects followed: what a reader without JS does."""

    base: str

    def __post_init__(self) -> None:
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def get(self, path: str) -> Answer:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict[str, str]) -> Answer:
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        return self._open(request)

    def csrf(self) -> str:
        return next(c.value or "" for c in self.jar if c.name == "mw_csrf")

    def _open(self, request: urllib.request.Request) -> Answer:
        try:
            with self.opener.open(request, timeout=30) as answer:
                return Answer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read())


@dataclass
class Site:
    browser: Browser
    config: Path
    engine_url: str
    ids: dict[str, int]


@pytest.fixture
def site(tmp_path: Path, db_url: str, cli) -> Iterator[Site]:
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(db_url), encoding="utf-8")
    assert cli("--config", str(config_file), "init").code == 0
    engine = make_engine(db_url)
    archive = make_archive(engine)
    day = NOW - timedelta(hours=3)
    ids = {
        "script": archive.add(SCRIPT, "The PMF convoy moved north.", day, publisher="a.example"),
        "arabic": archive.add(
            ARABIC,
            "الحشد الشعبي في بغداد",
            day,
            language="ar",
            publisher="shafaq.example",
            source="Shafaq",
        ),
        "hezbollah": archive.add("Hezbollah statement", "Hezbollah said.", day - timedelta(days=2)),
    }
    ids["img"] = archive.add(
        IMG, "A PMF checkpoint.", day + timedelta(hours=1), publisher="b.example"
    )
    ids["copy"] = archive.add(
        "PMF convoy seen", "The PMF convoy moved north.", day + timedelta(hours=2),
        publisher="c.example", copy_of=ids["script"],
    )  # fmt: skip
    for back in range(3, 12):
        archive.add(f"PMF day {back}", "PMF statement.", NOW - timedelta(days=back))
    with transaction(session_factory(engine)) as session:
        session.add(
            AlertEpisode(
                cluster="PMF", status="open", onset_bucket=day, opened_at=day + timedelta(hours=1),
                last_bucket=day, observed=4, expected=0.5, tail_probability=1e-5, peak_count=4,
                sources=3, updates=0, quiet_buckets=0,
            )
        )  # fmt: skip
        shafaq = session.query(Source).filter_by(name="Shafaq").one()
        shafaq.last_polled_at, shafaq.last_status = NOW - timedelta(minutes=20), "error"
        shafaq.last_http_status, shafaq.last_error = 404, "HTTP 404 <b>Not Found</b>"
        shafaq.healthy, shafaq.consecutive_failures = False, 3
    ids["episode"] = 1
    desk = Desk(config=load_config(config_file), engine=engine, now=lambda: NOW)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(desk), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the desk did not start"
    yield Site(Browser(f"http://127.0.0.1:{port}"), config_file, db_url, ids)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def assert_escaped(page: str) -> None:
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")


def test_overview_lists_every_cluster_open_episode_first(site: Site) -> None:
    answer = site.browser.get("/")
    assert answer.status == 200
    page = answer.text
    for name in ("PMF", "Interior Ministry", "Hezbollah", "Khazali", "Kataib Hezbollah"):
        assert f">{html.escape(name)}</a>" in page
    assert page.count('<svg class="sparkline"') == 5
    assert page.index(">PMF</a>") < page.index(">Hezbollah</a>")  # open episode first
    row = page[page.index(">PMF</a>") : page.index("</tr>", page.index(">PMF</a>"))]
    assert "open episode" in row
    assert re.search(r"<td class=\"num\">3</td>", row)  # 3 stories in 24 h: a copy folds
    assert "Content-Security-Policy" in answer.headers


def test_cluster_page_shows_trend_headlines_copies_and_exports(site: Site) -> None:
    answer = site.browser.get("/clusters/PMF?by=day&since=14d")
    assert answer.status == 200, answer.text
    page = answer.text
    assert '<svg class="trend"' in page and 'class="episode"' in page
    assert_escaped(page)
    assert html.escape(SCRIPT, quote=False) in page
    assert "<details><summary>1 more copy" in page and "PMF convoy seen" in page
    assert f'dir="rtl">{ARABIC}</a>' in page
    assert "a.example" in page and ">ar</td>" in page
    assert "/clusters/PMF/report.csv?by=day&amp;since=14d" in page
    rows = json.loads(site.browser.get("/clusters/PMF/report.json?by=day&since=14d").text)
    assert {row["cluster"] for row in rows} == {"PMF"} and sum(r["stories"] for r in rows) == 12
    assert site.browser.get("/clusters/PMF/report.csv?since=14d").text.startswith("cluster,bucket")
    assert site.browser.get("/clusters/PMF/report.png").body.startswith(b"\x89PNG")
    assert site.browser.get("/clusters/Nobody").status == 404
    assert site.browser.get("/clusters/PMF?since=yesterday-ish").status == 400


def test_cluster_headlines_most_carried_first_with_every_copy_folded(site: Site) -> None:
    """One headline per story, the most widely carried first; the headline is the story's
    first article in the period, and its copies fold under it, even one from before."""
    engine = make_engine(site.engine_url)
    archive = Archive(engine, Watchlist(CLUSTERS), {})
    body = "The PMF summit opened in Baghdad."
    original = archive.add("PMF summit opens", body, NOW - timedelta(days=20))
    for title, days, publisher in (("wire", 2, "y.example"), ("radio", 1, "z.example")):
        archive.add(
            f"PMF summit opens ({title})", body, NOW - timedelta(days=days),
            publisher=publisher, copy_of=original,
        )  # fmt: skip
    engine.dispose()
    page = site.browser.get("/clusters/PMF?since=14d").text
    headlines = re.findall(r'<ol class="headlines">(.*?)</ol>\s*</section>', page, re.S)[0]
    items = headlines.split("\n<li>")[1:]
    titles = [re.findall(r'dir="[a-z]+">([^<]+)</(?:a|span)>', item)[0] for item in items]
    assert titles[:2] == ["PMF summit opens (wire)", html.escape(SCRIPT, quote=False)]
    assert len(titles) == len(set(titles))  # one per story
    summit = items[0]
    assert "2 more copies (2 publishers)" in summit
    assert summit.index("PMF summit opens</a>") < summit.index("PMF summit opens (radio)</a>")


def test_cluster_page_names_the_clusters_reported_together(site: Site) -> None:
    page = site.browser.get("/clusters/PMF?since=14d").text
    assert "No other cluster." in page  # nothing in the archive mentions PMF and another
    engine = make_engine(site.engine_url)
    with transaction(session_factory(engine)) as session:  # the Hezbollah story names PMF too
        hezbollah = (
            session.get(Mention, site.ids["hezbollah"])
            or session.scalars(
                select(Mention).where(Mention.article_id == site.ids["hezbollah"])
            ).first()
        )
        assert hezbollah is not None
        session.add(
            Mention(
                article_id=hezbollah.article_id, cluster="PMF", term="PMF",
                seen_at=hezbollah.seen_at, story_id=hezbollah.story_id,
            )
        )  # fmt: skip
    engine.dispose()
    page = site.browser.get("/clusters/PMF?since=14d").text
    together = page[page.index("Reported together with") :]
    assert re.search(r'>Hezbollah</a></td><td class="num">1</td>', together)
    page = site.browser.get("/clusters/Hezbollah?since=14d").text
    assert re.search(
        r'>PMF</a></td><td class="num">1</td>', page[page.index("Reported together") :]
    )


def test_story_page_lists_the_copies(site: Site) -> None:
    page = site.browser.get(f"/stories/{site.ids['copy']}").text
    assert "2 article(s) of this story from 2 publisher(s)" in page
    assert_escaped(page)


def test_search_page_agrees_with_the_cli(site: Site, cli) -> None:
    answer = site.browser.get("/search?q=PMF&since=2026-03-01")
    assert answer.status == 200
    page = answer.text
    assert_escaped(page)
    assert "<mark>PMF</mark>" in page
    shown = [int(found) for found in re.findall(r'href="/stories/(\d+)"', page)]
    result = cli("--config", str(site.config), "search", "PMF", "--since", "2026-03-01",
                 "--format", "json")  # fmt: skip
    assert result.code == 0, result
    assert shown == [hit["id"] for hit in json.loads(result.out)]
    arabic = site.browser.get("/search?" + urllib.parse.urlencode({"q": "الحشد"})).text
    assert '<div class="snippet" dir="rtl">' in arabic and "<mark>" in arabic
    assert f"/stories/{site.ids['arabic']}" in arabic
    filtered = site.browser.get("/search?q=%40PMF&language=ar&source=Shafaq").text
    assert (
        f"/stories/{site.ids['arabic']}" in filtered
        and f"/stories/{site.ids['img']}" not in filtered
    )


def test_search_pages_and_exports(site: Site) -> None:
    from mediawatch.web import pages_search

    first = site.browser.get("/search?q=PMF").text
    assert first.count('href="/stories/') == min(pages_search.PAGE, 12)
    assert 'href="/api/v1/search?q=PMF"' in first and 'href="/feeds/search.atom?q=PMF"' in first


def test_bad_query_is_a_message_not_a_500(site: Site) -> None:
    answer = site.browser.get("/search?" + urllib.parse.urlencode({"q": '"unclosed AND ('}))
    assert answer.status == 400
    assert "That query cannot be used" in answer.text
    unknown = site.browser.get("/search?q=%40Nobody")
    assert unknown.status == 400 and "unknown cluster @Nobody" in unknown.text


def test_alerts_page_marks_and_mutes_with_csrf(site: Site) -> None:
    page = site.browser.get("/alerts").text
    assert "episode 1" in page and "4 stories about PMF" in page
    token = site.browser.csrf()
    assert f'name="csrf" value="{token}"' in page
    refused = site.browser.post("/alerts/1/mark", {"mark": "useful"})
    assert refused.status == 403
    done = site.browser.post("/alerts/1/mark", {"mark": "false_alarm", "csrf": token})
    assert done.status == 303 and done.headers["location"].startswith("/alerts")
    muted = site.browser.post("/alerts/mute", {"cluster": "PMF", "for": "7d", "csrf": token})
    assert muted.status == 303
    engine = make_engine(site.engine_url)
    with session_factory(engine)() as session:
        assert session.get(AlertEpisode, 1).feedback == "false_alarm"  # type: ignore[union-attr]
        assert session.get(ClusterMute, "PMF").until == NOW + timedelta(days=7)  # type: ignore[union-attr]
    page = site.browser.get("/alerts").text
    assert "false alarm" in page and "PMF</span> muted until 2026-03-17 12:00" in page
    assert site.browser.post("/alerts/unmute", {"cluster": "PMF", "csrf": token}).status == 303
    assert site.browser.post("/alerts/mute", {"cluster": "Nobody", "csrf": token}).status == 400
    with session_factory(engine)() as session:
        assert session.get(ClusterMute, "PMF") is None
    engine.dispose()


def test_sources_page_says_what_went_wrong(site: Site) -> None:
    page = site.browser.get("/sources").text
    assert "Rudaw" in page and "Shafaq" in page
    assert (
        "the address is gone (not found) (HTTP 404): HTTP 404 &lt;b&gt;Not Found&lt;/b&gt;" in page
    )
    assert "failing" in page and "not polled yet" in page


ROW_NAME = r'<th scope="row">([^<]+)(?:<div[^>]*>[^<]*</div>)?</th>'


def test_sources_page_names_each_kind_and_links_a_telegram_channel(site: Site) -> None:
    engine = make_engine(site.engine_url)
    with transaction(session_factory(engine)) as session:
        for name, url, kind in (
            ("PMF channel", "https://t.me/s/pmf_media", "telegram"),
            ("Shafaq sitemap", "https://shafaq.example/sitemap.xml", "sitemap"),
            ("INA listing", "https://ina.example/news", "html"),
        ):
            session.add(
                Source(
                    name=name, url=url, kind=kind, enabled=True, interval_seconds=900,
                    next_poll_at=NOW, created_at=NOW, consecutive_failures=0, healthy=True,
                )
            )  # fmt: skip
    engine.dispose()
    page = site.browser.get("/sources").text
    kinds = {
        name: re.sub(r"<[^>]+>", " ", cell).split()
        for name, cell in re.findall(ROW_NAME + r'\s*<td class="kind[^"]*">(.*?)</td>', page)
    }
    assert kinds["Rudaw"] == ["RSS/Atom", "feed"]
    assert kinds["Shafaq sitemap"] == ["sitemap"]
    assert kinds["INA listing"] == ["HTML", "listing", "page"]
    assert kinds["PMF channel"] == ["Telegram", "channel", "@pmf_media"]
    assert (
        '<a href="https://t.me/pmf_media" rel="noopener noreferrer nofollow">@pmf_media</a>' in page
    )


def test_watchlist_match_and_draft_backtest(site: Site) -> None:
    page = site.browser.get("/watchlist").text
    assert "Popular Mobilization Forces" in page and 'dir="auto">وزارة الداخلية</span>' in page
    token = site.browser.csrf()
    matched = site.browser.post(
        "/watchlist/match",
        {
            "csrf": token,
            "text": "The Interior Ministry said PMF units moved. <b>x</b>",
            "title": "",
        },
    ).text
    assert '<strong>MATCH</strong> <span dir="auto">PMF</span>' in matched
    assert '<strong>no</strong> <span dir="auto">Interior Ministry</span>' in matched
    assert "&lt;b&gt;x&lt;/b&gt;" in matched
    fields = {"csrf": token, "name": "Convoys", "terms": "convoy\ncheckpoint", "since": "5d"}
    answer = site.browser.post("/watchlist/backtest", fields)
    assert answer.status == 200, answer.text
    assert re.search(r"This would (have alerted on these days|not have alerted since)", answer.text)
    engine = make_engine(site.engine_url)
    with session_factory(engine)() as session:  # the replay wrote nothing
        assert not session.scalars(select(Mention).where(Mention.cluster.like("draft%"))).all()
    engine.dispose()
    bad = site.browser.post("/watchlist/backtest", {"csrf": token, "query": '"open'})
    assert bad.status == 400 and 'class="error"' in bad.text
    assert site.browser.post("/watchlist/match", {"text": "PMF"}).status == 403
