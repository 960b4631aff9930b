"""The desk in a real browser: Debian's Chromium, driven by Playwright, against a real
``mediawatch web`` over an archive crawled from the local newsroom (plus a hostile title and
an open episode). A dialog, a console error or a CSP violation on any page fails the test.

``MEDIAWATCH_SCREENSHOTS=1`` also saves the README's screenshots to docs/desk/.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import feedparser
import pytest
from sqlalchemy import Engine
from support.alert_episodes import open_episode
from support.browser import OpenTab, Watched, require_browser
from support.newsroom import Article, Feed, Newsroom
from support.newsroom_content import HOSTILE, STANDARD_SOURCES, build_standard, sources_toml
from support.ports import free_port
from support.processes import ROOT, mediawatch_output, start_mediawatch, stop, wait_for
from support.report_archive import Archive

from clock.moments import utcnow
from config.load import load_config
from mediawatch.web.pages_search import PAGE
from storage.engine import make_engine, session_factory, transaction
from watchlist.matcher import Watchlist

SCREENSHOTS = ROOT / "docs" / "desk"
HOSTILE_TITLE = (
    'Checkpoint row at the Interior Ministry <script>alert("title")</script>'
    "<img src=x onerror=alert(1)>"
)
ARABIC_TITLE = "خلافات حول حقيبة وزارة الداخلية تؤخر تشكيل الحكومة العراقية"
ENGLISH_TITLE = "Iran-backed factions press claim to Iraq's Interior Ministry"
CLUSTER = "Interior Ministry"
BULLETINS = PAGE + 5  # more than a page of search results
FERRIES = "Ferries"
NAV_PATHS = {"/", "/search", "/alerts", "/sources", "/watchlist"}
CONFIG = """[storage]
url = "sqlite:///{db}"

[crawl]
allow_private_networks = true
timeout = "2s"
delay = "0s"
concurrency_per_domain = 4
user_agent = "mediawatch-test/0.1"
contact_url = "https://example.org/mediawatch-bot"

[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry", "Ministry of Interior", "وزارة الداخلية"]

[[clusters]]
name = "Peshmerga"
terms = ["Peshmerga"]

[[clusters]]
name = "Ferries"
terms = ["ferry"]

{sources}
[[sources]]
name = "Checkpoint desk"
url = "{hostile_feed}"
kind = "feed"
"""


@dataclass(frozen=True)
class Desk:
    url: str
    config: Path

    def at(self, path: str) -> str:
        return self.url.rstrip("/") + path


def _hostile_story(room: Newsroom) -> str:
    """A story whose title is markup, in a feed of its own; the feed's URL."""
    story = Article(
        0,
        "/news/2026/11/checkpoint-row.html",
        HOSTILE_TITLE,
        (
            "The Interior Ministry denied a row at a checkpoint in Baghdad on Thursday.",
            "Police said the checkpoint was reopened at noon after talks with the factions.",
        ),
        published=(utcnow() - timedelta(minutes=90)).replace(microsecond=0),
        author="Staff reporter",
    )
    room.add_article(story)
    return room.add_feed(Feed(0, "/feeds/checkpoint.xml", "rss", "Checkpoint desk", [story]))


def _port_news(engine: Engine, config: Path) -> None:
    """Stored as the store stores them, without a source: ``BULLETINS`` port bulletins
    three hours apart that no cluster mentions (a search for "bulletin" has a second page),
    and ferry stories, one every other day for two weeks, then six from three publishers
    within an hour three hours ago (a spike of the Ferries cluster)."""
    archive = Archive(engine, Watchlist(load_config(config).clusters), {})
    now = utcnow().replace(microsecond=0)
    for number in range(1, BULLETINS + 1):
        archive.add(
            f"Basra port bulletin {number}",
            f"Basra port traffic bulletin number {number}: six ships wait at the anchorage.",
            now - timedelta(hours=3 * number),
            publisher="port.example",
        )
    for day in range(2, 16, 2):
        archive.add(
            f"Shatt al-Arab ferry timetable, day {day}", "The ferry runs on time.",
            now - timedelta(days=day), publisher="port.example",
        )  # fmt: skip
    rush = now.replace(minute=0, second=0) - timedelta(hours=3)
    for number in range(6):
        archive.add(
            f"Ferry stranded on the Shatt al-Arab, report {number}",
            f"A ferry ran aground near Basra; passengers wait ({number}).",
            rush + timedelta(minutes=7 * number), publisher=f"ferry{number % 3}.example",
        )  # fmt: skip


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """``mediawatch web`` over the newsroom, crawled once into SQLite; an open episode too."""
    require_browser()  # before the crawl: without a browser there is nothing to serve to
    folder = tmp_path_factory.mktemp("desk")
    room = Newsroom().start()
    try:
        build_standard(room)
        hostile_feed = _hostile_story(room)
        calm = {name for name, *_ in STANDARD_SOURCES} - HOSTILE
        config = folder / "config.toml"
        config.write_text(
            CONFIG.format(
                db=folder / "mediawatch.db",
                sources=sources_toml(room, calm),
                hostile_feed=hostile_feed,
            ),
            encoding="utf-8",
        )
        mediawatch_output(config, "init")
        mediawatch_output(config, "crawl", "--once", "--format", "json")
    finally:
        room.stop()
    engine = make_engine(f"sqlite:///{folder / 'mediawatch.db'}")
    with transaction(session_factory(engine)) as session:
        open_episode(session, CLUSTER, utcnow().replace(minute=0, second=0, microsecond=0))
    _port_news(engine, config)
    engine.dispose()

    url = f"http://127.0.0.1:{free_port()}/"
    log = (folder / "web.log").open("w")
    server = start_mediawatch(
        config, "web", "--listen", urlsplit(url).netloc, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        ready = wait_for(lambda: server.poll() is not None or _answers(url + "api/v1/openapi.json"))
        assert ready and server.poll() is None, (folder / "web.log").read_text()
        yield Desk(url, config)
    finally:
        stop(server)
        log.close()


def _screenshot(tab: Watched, name: str) -> None:
    """docs/desk/NAME.png when MEDIAWATCH_SCREENSHOTS=1 (the README shows them)."""
    if os.environ.get("MEDIAWATCH_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def _goto(tab: Watched, url: str) -> None:
    answer = tab.page.goto(url)
    assert answer is not None and answer.status == 200, f"{url}: {answer and answer.status}"


def _direction(tab: Watched, text: str) -> str:
    element = tab.page.get_by_text(text, exact=False).first
    return str(element.evaluate("element => getComputedStyle(element).direction"))


# -- what the desk ships -------------------------------------------------------------------


def test_the_openapi_document_and_the_stylesheet_are_served(desk: Desk, tab: Watched) -> None:
    answer = tab.page.goto(desk.at("/api/v1/openapi.json"))
    assert answer is not None and answer.status == 200
    document = answer.json()
    assert document["openapi"].startswith("3.")
    assert any(path.startswith("/api/v1/") for path in document["paths"])

    css = tab.page.goto(desk.at("/static/desk.css"))
    assert css is not None and css.status == 200
    assert css.headers["content-type"].startswith("text/css")
    tab.assert_clean()


def test_every_answer_carries_the_content_security_policy(desk: Desk, tab: Watched) -> None:
    for path in ("/", "/static/desk.css", "/api/v1/openapi.json"):
        answer = tab.page.goto(desk.at(path))
        assert answer is not None
        headers = answer.headers
        assert "script-src 'self'" in headers.get("content-security-policy", ""), path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "no-referrer", path
    tab.assert_clean()


# -- the pages -----------------------------------------------------------------------------


def test_every_page_is_reached_through_the_nav(desk: Desk, tab: Watched) -> None:
    page = tab.page
    _goto(tab, desk.url)
    nav = page.locator("nav a")
    hrefs = [str(urlsplit(nav.nth(i).get_attribute("href") or "").path) for i in range(nav.count())]
    assert set(hrefs) >= NAV_PATHS, hrefs
    for path in sorted(NAV_PATHS):
        _goto(tab, desk.url)
        with page.expect_navigation() as navigation:
            page.locator(f'nav a[href="{path}"]').first.click()
        answer = navigation.value
        assert answer is not None and answer.status == 200, path
        assert urlsplit(page.url).path == path
        assert page.locator("h1").count() >= 1, path
        assert page.title(), path
    tab.assert_clean()


def test_the_overview_leads_to_each_cluster(desk: Desk, tab: Watched) -> None:
    page = tab.page
    _goto(tab, desk.url)
    for name in (CLUSTER, "Peshmerga"):
        assert page.get_by_role("link", name=name).count() >= 1, name
    _screenshot(tab, "overview")
    with page.expect_navigation():
        page.get_by_role("link", name=CLUSTER).first.click()
    assert urlsplit(page.url).path == f"/clusters/{quote(CLUSTER)}"
    assert page.get_by_text(ENGLISH_TITLE).count() >= 1
    _screenshot(tab, "cluster")
    tab.assert_clean()


def test_a_hostile_title_renders_as_text(desk: Desk, tab: Watched) -> None:
    page = tab.page
    for path in (f"/clusters/{quote(CLUSTER)}", "/search?q=checkpoint"):
        _goto(tab, desk.at(path))
        assert HOSTILE_TITLE in page.locator("body").inner_text(), path
        assert page.locator('img[src="x"]').count() == 0, path
        assert page.locator("script:not([src])").count() == 0, path
    tab.assert_clean()  # alert() would have opened a dialog


def test_arabic_reads_right_to_left_and_english_left_to_right(desk: Desk, tab: Watched) -> None:
    for path in (f"/clusters/{quote(CLUSTER)}", f"/search?q={quote('وزارة الداخلية')}"):
        _goto(tab, desk.at(path))
        assert _direction(tab, ARABIC_TITLE) == "rtl", path
    _goto(tab, desk.at(f"/clusters/{quote(CLUSTER)}"))
    assert _direction(tab, ENGLISH_TITLE) == "ltr"
    tab.assert_clean()


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("Ministry", ""),
        ("Peshmerga OR Basra", ""),
        ("وزارة الداخلية", ""),
        ('@"Interior Ministry"', "ar"),
    ],
)
def test_the_search_page_agrees_with_mediawatch_search(
    desk: Desk, tab: Watched, query: str, language: str
) -> None:
    filters = ["--language", language] if language else []
    found = json.loads(
        mediawatch_output(desk.config, "search", query, *filters, "--format", "json")
    )
    assert found, query
    everything = [
        json.loads(line)
        for line in mediawatch_output(desk.config, "export", "--format", "jsonl").splitlines()
    ]
    page = tab.page
    _goto(tab, desk.at("/search"))
    page.locator('input[name="q"]').fill(query)
    page.locator('input[name="language"]').fill(language)
    with page.expect_navigation():
        page.locator('input[name="q"]').press("Enter")
    shown = page.locator("main").inner_text()
    positions = [shown.find(row["title"]) for row in found]
    assert -1 not in positions, [r["title"] for r, p in zip(found, positions, strict=True) if p < 0]
    assert positions == sorted(positions), "the page's order is not the CLI's"
    titles = {row["title"] for row in found}
    others = {str(row["title"]) for row in everything} - titles
    assert not [title for title in others if title in shown]
    if query == "Ministry":
        _screenshot(tab, "search")
    tab.assert_clean()


def test_the_alerts_page_shows_the_open_episode(desk: Desk, tab: Watched) -> None:
    _goto(tab, desk.at("/alerts"))
    shown = tab.page.locator("main").inner_text()
    assert CLUSTER in shown
    assert "23 stories" in shown  # what the episode observed, explained
    _screenshot(tab, "alerts")
    tab.assert_clean()


def test_reading_works_without_javascript(desk: Desk, open_tab: OpenTab) -> None:
    tab = open_tab(java_script=False)
    page = tab.page
    for path in sorted(NAV_PATHS):
        _goto(tab, desk.at(path))
        assert page.locator("h1").count() >= 1, path
    _goto(tab, desk.at(f"/clusters/{quote(CLUSTER)}"))
    assert page.get_by_text(ENGLISH_TITLE).count() >= 1
    _goto(tab, desk.at("/search"))
    page.locator('input[name="q"]').fill("Peshmerga")
    with page.expect_navigation():
        page.locator('input[name="q"]').press("Enter")  # a plain GET form, no script
    assert "Peshmerga and Iraqi army agree on joint patrols" in page.locator("main").inner_text()
    tab.assert_clean()


def test_a_search_result_leads_to_its_story_and_copies(desk: Desk, tab: Watched) -> None:
    page = tab.page
    _goto(tab, desk.at("/search?q=" + quote('"joint patrols"')))
    with page.expect_navigation():
        page.get_by_role("link", name="story and copies").first.click()
    assert urlsplit(page.url).path.startswith("/stories/")
    shown = page.locator("main").inner_text()
    assert "3 article(s) of this story from 3 publisher(s)" in shown
    assert {"127.0.0.1", "127.0.0.2", "127.0.0.3"} <= set(shown.split())
    tab.assert_clean()


def test_the_sources_page_shows_each_source_healthy(desk: Desk, tab: Watched) -> None:
    _goto(tab, desk.at("/sources"))
    table = tab.page.locator("table.sources tbody")
    for name in ("Checkpoint desk", "Newsroom Daily Arabic Atom", "Gulf Observer sitemap"):
        row = table.locator("tr", has_text=name)
        assert row.count() == 1, name
        assert "healthy" in row.inner_text(), name
    tab.assert_clean()


def test_pasted_text_is_matched_on_the_watchlist_page(desk: Desk, tab: Watched) -> None:
    page = tab.page
    _goto(tab, desk.at("/watchlist"))
    page.locator("#title").fill(HOSTILE_TITLE)
    page.locator("#text").fill("قال مسؤول إن وزارة الداخلية فتحت تحقيقا.")
    with page.expect_navigation():
        page.get_by_role("button", name="Match").click()
    matched = page.locator("ul.verdicts > li.matched")
    assert matched.count() == 1
    assert "Interior Ministry" in matched.inner_text()
    assert page.locator("#title").input_value() == HOSTILE_TITLE  # kept as text, not markup
    assert page.locator('img[src="x"]').count() == 0
    excerpt = matched.locator("q", has_text="وزارة الداخلية").first
    assert excerpt.evaluate("element => getComputedStyle(element).direction") == "rtl"
    tab.assert_clean()


def test_an_episode_is_marked_and_a_cluster_muted_from_the_alerts_page(
    desk: Desk, tab: Watched
) -> None:
    """Each button is a POST form with the CSRF field: the browser's own cookie must do."""
    page = tab.page
    _goto(tab, desk.at("/alerts"))
    episode = page.locator("article.episode").first
    with page.expect_navigation():
        episode.get_by_role("button", name="Useful").click()
    assert "Marked: useful" in page.locator("article.episode").first.inner_text()

    mute = page.locator('form[action="/alerts/mute"]', has=page.locator("select"))
    mute.locator('select[name="cluster"]').select_option("Peshmerga")
    with page.expect_navigation():
        mute.get_by_role("button", name="Mute").click()
    muted = page.locator("ul.mutes li", has_text="Peshmerga")
    assert "Peshmerga muted until" in muted.inner_text()
    with page.expect_navigation():
        muted.get_by_role("button", name="Unmute").click()
    assert "No cluster is muted." in page.locator("main").inner_text()
    tab.assert_clean()


def _result_titles(tab: Watched) -> list[str]:
    return [title.strip() for title in tab.page.locator("ol.results .title").all_inner_texts()]


def test_search_pages_through_the_results_mediawatch_search_lists(desk: Desk, tab: Watched) -> None:
    found = json.loads(
        mediawatch_output(desk.config, "search", "bulletin", "--limit", "50", "--format", "json")
    )
    assert len(found) == BULLETINS
    page = tab.page
    _goto(tab, desk.at("/search?q=bulletin"))
    first = _result_titles(tab)
    assert page.locator('a[rel="prev"]').count() == 0
    with page.expect_navigation():
        page.locator('a[rel="next"]').click()
    assert "page=2" in page.url
    second = _result_titles(tab)
    assert len(first) == PAGE and len(second) == BULLETINS - PAGE
    assert not set(first) & set(second), "the next page repeats results"
    assert first + second == [row["title"] for row in found]
    assert page.locator('a[rel="next"]').count() == 0
    with page.expect_navigation():
        page.locator('a[rel="prev"]').click()
    assert _result_titles(tab) == first
    tab.assert_clean()


def _backtest(desk: Desk, tab: Watched, name: str, terms: tuple[str, ...], since: str) -> str:
    """Fill the watch-list page's draft form and submit it; the result sentence."""
    page = tab.page
    _goto(tab, desk.at("/watchlist"))
    draft = page.locator("form.draft")
    draft.locator('input[name="name"]').fill(name)
    draft.locator('input[name="since"]').fill(since)
    draft.locator('textarea[name="terms"]').fill("\n".join(terms))
    with page.expect_navigation():
        draft.get_by_role("button", name="Backtest").click()
    return page.locator("#draft p.result").inner_text()


def test_a_draft_rule_is_backtested_as_mediawatch_alerts_backtest_replays_a_cluster(
    desk: Desk, tab: Watched
) -> None:
    """A draft with the terms of a configured cluster alerts when ``alerts backtest``
    replays that cluster alerting; a draft that matches nothing would not have alerted."""
    replayed = json.loads(
        mediawatch_output(
            desk.config, "alerts", "backtest", "--cluster", FERRIES, "--since", "7d",
            "--format", "json",
        )
    )  # fmt: skip
    opened = sorted({row["bucket"][:10] for row in replayed if row["kind"] == "open"})
    assert opened, "the stranded ferry should open an episode"
    page = tab.page
    result = _backtest(desk, tab, "Ferry draft", ("ferry",), "7d")
    assert result.startswith("This would have alerted on these days: ")
    assert (
        result.removeprefix("This would have alerted on these days: ").rstrip(".").split(", ")
        == opened
    )
    events = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("#draft table tbody tr").all()
    ]
    assert [(e[0], e[1], int(e[2])) for e in events] == [
        (row["bucket"][:16].replace("T", " "), row["kind"], row["stories"]) for row in replayed
    ]
    nothing = _backtest(desk, tab, "Nowhere draft", ("Zanzibar ferry",), "7d")
    assert nothing.startswith("This would not have alerted since ")
    assert page.locator("#draft table").count() == 0
    # Nothing was saved: the configured cluster still has exactly what it had.
    again = mediawatch_output(
        desk.config, "alerts", "backtest", "--cluster", FERRIES, "--since", "7d",
        "--format", "json",
    )  # fmt: skip
    assert json.loads(again) == replayed
    tab.assert_clean()


def test_a_cluster_page_links_an_atom_feed_that_feedparser_reads(desk: Desk, tab: Watched) -> None:
    page = tab.page
    _goto(tab, desk.at(f"/clusters/{quote(CLUSTER)}"))
    link = page.get_by_role("link", name="Atom feed of new stories")
    href = link.get_attribute("href")
    assert href and href == page.locator(
        'head link[rel="alternate"][type="application/atom+xml"]'
    ).get_attribute("href")
    answer = page.request.get(urljoin(page.url, href))
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.body(), response_headers=answer.headers)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    titles = [entry.title for entry in feed.entries]
    assert ENGLISH_TITLE in titles and ARABIC_TITLE in titles
    assert not [title for title in titles if "bulletin" in title or "erry" in title]
    shown = page.locator("ol.headlines > li > a").all_inner_texts()
    assert set(shown) <= set(titles) | {HOSTILE_TITLE}, "a headline of the page is not in its feed"
    tab.assert_clean()
