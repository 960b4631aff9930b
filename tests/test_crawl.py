"""End to end: ``mediawatch crawl`` against the local newsroom, for real, in subprocesses
(the Twisted reactor starts once per process), on a SQLite database in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.newsroom import Article, Feed, Newsroom, page
from support.newsroom_content import (
    HOSTILE,
    HOSTILE_PAGES,
    STANDARD_SOURCES,
    build_standard,
    sources_toml,
)
from support.processes import Run, mediawatch

from spiders.parsing.canonical import canonical_url

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = """
[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry", "Ministry of Interior", "وزارة الداخلية"]

[[clusters]]
name = "Peshmerga"
terms = ["Peshmerga"]
"""


def write_config(
    path: Path,
    room: Newsroom,
    *,
    allow_private: bool = True,
    names: set[str] | None = None,
    crawl: str = "",
    sources: str = "",
) -> Path:
    """``crawl``: more lines of the [crawl] section; ``sources``: more [[sources]]."""
    db = path.parent / "data" / "mediawatch.db"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{db}"\n\n[crawl]\n'
        f"allow_private_networks = {'true' if allow_private else 'false'}\n"
        'timeout = "2s"\ndelay = "1ms"\nconcurrency_per_domain = 8\n'
        'max_response_bytes = 2000000\nuser_agent = "mediawatch-test/0.1"\n'
        f'contact_url = "https://example.org/mediawatch-bot"\n{crawl}'
        f"{CLUSTERS}\n{sources_toml(room, names)}\n{sources}",
        encoding="utf-8",
    )
    return path


@dataclass
class Crawled:
    room: Newsroom
    config: Path
    first: Run
    second: Run
    article_hits_second: int
    export: list[dict[str, object]]
    status: list[dict[str, object]]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    room = Newsroom().start()
    build_standard(room)
    config = write_config(tmp_path_factory.mktemp("crawl") / "config.toml", room)
    assert mediawatch(config, "init").code == 0
    first = mediawatch(config, "crawl", "--once", "--format", "json")
    room_hits_after_first = dict(room.requests)
    room.reset_counts()
    second = mediawatch(config, "crawl", "--once", "--format", "json")
    hits_second = room.article_hits()
    exported = mediawatch(config, "export", "--format", "jsonl")
    status = mediawatch(config, "sources", "status", "--format", "json")
    room.requests.update(room_hits_after_first)
    yield Crawled(
        room, config, first, second, hits_second,
        [json.loads(line) for line in exported.out.splitlines()],
        json.loads(status.out),
    )  # fmt: skip
    room.stop()


def _summary(run: Run) -> dict[str, dict[str, object]]:
    assert run.code == 0, run.err[-3000:]
    return {row["source"]: row for row in json.loads(run.out)}


def _expected_urls(room: Newsroom) -> set[str]:
    stored = {canonical_url(room.url(path, host)) for (host, path) in room.articles}
    stored -= {canonical_url(room.url("/world/2019/05/old-story.html", 2))}  # too old to follow
    stored |= {canonical_url(room.url(path)) for path in HOSTILE_PAGES}  # feed text stands in
    return stored


def test_every_article_is_stored_exactly_once(crawled: Crawled) -> None:
    urls = [str(article["url"]) for article in crawled.export]
    assert len(urls) == len(set(urls))
    assert set(urls) == _expected_urls(crawled.room)


def test_syndicated_copies_are_grouped_into_one_story(crawled: Crawled) -> None:
    copies = [a for a in crawled.export if str(a["title"]).startswith("Peshmerga and Iraqi")]
    assert len(copies) == 3
    originals = [a for a in copies if a["duplicate_of"] is None]
    assert len(originals) == 1
    assert {a["duplicate_of"] for a in copies if a["duplicate_of"]} == {originals[0]["url"]}
    assert len({a["source"] for a in copies}) == 3  # three publishers
    assert all("Peshmerga" in a["clusters"] for a in copies)  # type: ignore[operator]


def test_export_has_the_contract_fields(crawled: Crawled) -> None:
    fields = {"url", "title", "source", "published_at", "fetched_at", "language", "text",
              "clusters", "duplicate_of"}  # fmt: skip
    for article in crawled.export:
        assert set(article) >= fields
    by_url = {a["url"]: a for a in crawled.export}
    arabic = by_url[
        canonical_url(crawled.room.url("/ar/news/2026/11/interior-ministry-talks.html"))
    ]
    assert arabic["language"] == "ar" and arabic["clusters"] == ["Interior Ministry"]
    assert "وزارة الداخلية" in str(arabic["text"])
    page = by_url[canonical_url(crawled.room.url("/news/2026/11/militias-interior-ministry.html"))]
    text = str(page["text"])
    assert "Popular Mobilization Forces" in text
    assert "Follow the money" not in text and "All rights reserved" not in text  # no boilerplate


def test_feed_encodings_and_tracking_links_come_out_clean(crawled: Crawled) -> None:
    titles = {a["title"] for a in crawled.export}
    assert "تظاهرات في الناصرية للمطالبة بفرص العمل" in titles
    assert "Café owners in Erbil say “business is back”" in titles
    assert not any("utm_" in str(a["url"]) or "fbclid" in str(a["url"]) for a in crawled.export)


def test_pages_that_cannot_be_had_fall_back_to_the_feed(crawled: Crawled) -> None:
    by_url = {a["url"]: a for a in crawled.export}
    for path in HOSTILE_PAGES:
        article = by_url[canonical_url(crawled.room.url(path))]
        assert article["title"] == f"Hostile page {path}"
        assert str(article["text"]).startswith("The feed summary of")


def test_the_redirected_and_rate_limited_pages_are_fetched(crawled: Crawled) -> None:
    by_url = {a["url"]: a for a in crawled.export}
    moved = by_url[canonical_url(crawled.room.url("/news/2026/11/ministry-statement.html"))]
    assert "recruitment rules" in str(moved["text"])
    busy = by_url[canonical_url(crawled.room.url("/news/busy.html"))]
    assert "Retry-After delay succeeded" in str(busy["text"])


def test_hostile_sources_are_survived_in_bounded_time_and_memory(crawled: Crawled) -> None:
    summary = _summary(crawled.first)
    # Generous on purpose: the slow page and the timeouts bound the crawl, but a loaded
    # 2-core CI box can take several times longer than a laptop.
    assert crawled.first.seconds < 150
    assert crawled.first.peak_mb < 600
    for name in HOSTILE:
        assert summary[name]["status"] == "error", name
        assert summary[name]["error"], name
    assert "refused" in str(summary["Metadata redirect"]["error"])
    assert "DOWNLOAD_MAXSIZE" in str(summary["Gzip bomb feed"]["error"])
    assert summary["Rate limited"]["http"] == 429
    for name in {n for n, *_ in STANDARD_SOURCES} - HOSTILE:
        assert summary[name]["status"] == "ok", (name, summary[name])


def test_second_crawl_is_304s_no_new_rows_no_page_fetches(crawled: Crawled) -> None:
    second = _summary(crawled.second)
    assert sum(int(row["new"]) for row in second.values()) == 0  # type: ignore[call-overload]
    assert crawled.article_hits_second == 0
    for name in ("Newsroom Daily RSS", "Newsroom Daily Arabic Atom", "Wire Review JSON",
                 "Wire Review RDF", "Aggregator (Google News style)"):  # fmt: skip
        assert second[name]["not_modified"] is True and second[name]["http"] == 304


def test_politeness_robots_old_sitemaps_and_user_agent(crawled: Crawled) -> None:
    room = crawled.room
    assert room.hits("/private/members-only.html") == 0  # robots.txt disallows it
    assert room.hits("/sitemaps/archive-2019.xml", host=2) == 0  # too old to follow
    assert room.hits("/robots.txt") >= 1
    assert "mediawatch-test/0.1 (+https://example.org/mediawatch-bot)" in room.user_agents


def test_sources_status_shows_the_errors(crawled: Crawled) -> None:
    rows = {row["name"]: row for row in crawled.status}
    assert rows["Broken server"]["result"] == "error"
    assert rows["Broken server"]["error"] == "HTTP 500"
    assert int(rows["Broken server"]["failures"]) == 2  # type: ignore[call-overload]
    assert rows["Newsroom Daily RSS"]["result"] == "not_modified"


def test_nothing_is_due_right_after_a_crawl(crawled: Crawled) -> None:
    run = mediawatch(crawled.config, "crawl", "--due", "--format", "json")
    assert run.code == 0 and json.loads(run.out) == []


def test_private_addresses_are_refused_without_allow_private_networks(
    tmp_path: Path,
) -> None:
    room = Newsroom().start()
    try:
        build_standard(room)
        config = write_config(tmp_path / "config.toml", room, allow_private=False,
                              names={"Newsroom Daily RSS"})  # fmt: skip
        assert mediawatch(config, "init").code == 0
        run = mediawatch(config, "crawl", "--once", "--format", "json")
        row = _summary(run)["Newsroom Daily RSS"]
        assert row["status"] == "error" and "refused" in str(row["error"])
        assert sum(room.requests.values()) == 0
    finally:
        room.stop()


def test_crawl_flags_are_checked(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        build_standard(room)
        config = write_config(tmp_path / "config.toml", room, names={"Newsroom Daily RSS"})
        assert mediawatch(config, "init").code == 0
        unknown = mediawatch(config, "crawl", "--once", "--source", "Nope")
        assert unknown.code == 2 and "unknown source" in unknown.err
        assert mediawatch(config, "crawl").code == 2
        assert mediawatch(config, "crawl", "--once", "--due").code == 2
        one = mediawatch(config, "crawl", "--due", "--source", "Newsroom Daily RSS",
                         "--format", "json")  # fmt: skip
        assert _summary(one)["Newsroom Daily RSS"]["status"] == "ok"
    finally:
        room.stop()


def test_a_capped_poll_leaves_the_rest_for_the_next_poll(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        stories = [
            Article(0, f"/capped/{n}.html", f"Capped story number {n}",
                    (f"Paragraph of capped story {n} about the Interior Ministry.",),
                    published=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=n),
                    summary=f"Summary of capped story {n}.")
            for n in range(5)
        ]  # fmt: skip
        for story in stories:
            room.add_article(story)
        room.add_feed(Feed(0, "/feeds/capped.xml", "rss", "Capped", stories))
        source = f'[[sources]]\nname = "Capped"\nurl = "{room.url("/feeds/capped.xml")}"\n'
        config = write_config(tmp_path / "config.toml", room, names=set(),
                              crawl="max_articles_per_poll = 3\n", sources=source)  # fmt: skip
        assert mediawatch(config, "init").code == 0
        runs = [_summary(mediawatch(config, "crawl", "--once", "--format", "json"))["Capped"]
                for _ in range(3)]  # fmt: skip
        assert [(row["status"], row["new"]) for row in runs] == [
            ("ok", 3),
            ("ok", 2),  # the feed is unchanged: no 304, as the first poll was capped
            ("not_modified", 0),
        ]
        exported = mediawatch(config, "export", "--format", "jsonl").out.splitlines()
        assert {json.loads(line)["url"] for line in exported} == {
            canonical_url(room.url(story.path)) for story in stories
        }
    finally:
        room.stop()


def test_crawl_once_crawls_a_source_added_after_init(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        build_standard(room)
        path = tmp_path / "config.toml"
        write_config(path, room, names={"Newsroom Daily Arabic Atom"})
        assert mediawatch(path, "init").code == 0
        write_config(path, room, names={"Newsroom Daily Arabic Atom", "Wire Review JSON"})
        summary = _summary(mediawatch(path, "crawl", "--once", "--format", "json"))
        assert set(summary) == {"Newsroom Daily Arabic Atom", "Wire Review JSON"}
        added = summary["Wire Review JSON"]
        assert added["status"] == "ok" and int(added["new"]) > 0  # type: ignore[call-overload]
    finally:
        room.stop()


def test_a_page_stored_under_its_canonical_is_not_fetched_again(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        published = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)

        def story(path: str, title: str, canonical: str | None = None) -> Article:
            text = f"of the story {title!r}: the Interior Ministry in Baghdad answered questions"
            return Article(0, path, title, [f"Paragraph {n} {text} at length." for n in range(6)],
                           published=published, summary=f"Summary of {title}.",
                           canonical=canonical)  # fmt: skip

        moved = story("/feed-link/moved.html", "Ministry moves its offices", "/canon/moved.html")
        plain = story("/news/plain.html", "Peshmerga hold positions near Kirkuk")
        feed = Feed(0, "/feeds/canon.xml", "rss", "Canon", [moved, plain])
        for article in feed.articles:
            room.add_article(article)
        room.add_feed(feed)
        source = f'[[sources]]\nname = "Canon"\nurl = "{room.url(feed.path)}"\n'
        config = write_config(tmp_path / "config.toml", room, names=set(), sources=source)
        assert mediawatch(config, "init").code == 0
        first = _summary(mediawatch(config, "crawl", "--once", "--format", "json"))["Canon"]
        assert (first["status"], first["new"]) == ("ok", 2)

        added = story("/news/added.html", "Interior Ministry names a spokesman")
        room.add_article(added)
        feed.articles.append(added)  # the feed changes: no 304, its entries are looked at
        second = _summary(mediawatch(config, "crawl", "--once", "--format", "json"))["Canon"]
        assert (second["status"], second["new"]) == ("ok", 1)
        assert room.hits(moved.path) == 1, "the canonicalised page was fetched again"
        assert room.hits(plain.path) == 1
        assert room.hits(added.path) == 1
        exported = mediawatch(config, "export", "--format", "jsonl").out.splitlines()
        assert {json.loads(line)["url"] for line in exported} == {
            canonical_url(room.url(path)) for path in ("/canon/moved.html", plain.path, added.path)
        }
    finally:
        room.stop()


def test_a_page_too_slow_to_extract_costs_only_itself(tmp_path: Path) -> None:
    """A page that would hold an extraction worker for seconds is stopped at
    ``extract_timeout`` and stored from its feed's summary; the pages beside it are
    extracted by the other workers as usual, and the source is ok."""
    room = Newsroom().start()
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        stories = [
            Article(0, f"/calm/{n}.html", f"Calm story number {n}",
                    (f"Paragraph {n} about the Interior Ministry and its new minister.",) * 6,
                    published=now - timedelta(hours=n), summary=f"Summary of calm story {n}.")
            for n in range(4)
        ]  # fmt: skip
        for story in stories:
            room.add_article(story)
        cells = "<tr>" + "<td>x</td>" * 50 + "</tr>"  # 1.5 MB, under the size cap
        slow_html = (
            "<html lang='en'><head><title>Slow</title></head><body><article><h1>Slow</h1>"
            + "<p>The slow page's own words on the Interior Ministry, at length.</p>" * 8
            + f"<table>{cells * 3000}</table></article></body></html>"
        )
        room.route("/slow/table.html", page(slow_html))
        slow = Article(0, "/slow/table.html", "A table of the Interior Ministry", ("x",),
                       published=now, summary="The feed's summary of the slow page.")  # fmt: skip
        room.add_feed(Feed(0, "/feeds/mixed.xml", "rss", "Mixed", [slow, *stories]))
        source = f'[[sources]]\nname = "Mixed"\nurl = "{room.url("/feeds/mixed.xml")}"\n'
        limits = 'workers = 2\nextract_timeout = "1s"\n'
        config = write_config(tmp_path / "config.toml", room, names=set(),
                              crawl=limits, sources=source)  # fmt: skip
        assert mediawatch(config, "init").code == 0
        row = _summary(mediawatch(config, "crawl", "--once", "--format", "json"))["Mixed"]
        assert (row["status"], row["new"]) == ("ok", 5)
        exported = [json.loads(line) for line in
                    mediawatch(config, "export", "--format", "jsonl").out.splitlines()]  # fmt: skip
        by_url = {article["url"]: article for article in exported}
        slow_row = by_url[canonical_url(room.url("/slow/table.html"))]
        # The export shows the feed's summary where no page text was extracted.
        assert slow_row["text"] == "The feed's summary of the slow page."
        for story in stories:
            calm = by_url[canonical_url(room.url(story.path))]
            assert "new minister" in str(calm["text"])
    finally:
        room.stop()
