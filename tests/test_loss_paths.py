"""The loss paths found in review, each reproduced through the CLI against the local
newsroom: a careless publisher's sitemap, feed or server must never cost a good article,
keep a source polling every tick, or break the recording of the others' polls, and
``sources status`` must say what happened."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from support.newsroom import Article, Newsroom, Reply, page
from support.processes import mediawatch

from spiders.parsing.canonical import canonical_url

pytestmark = pytest.mark.slow

MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(hours=6)
NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
ODD_LASTMODS = {"year1": "0001-01-01T00:00:00+01:00", "year9999": "9999-12-31T23:59:59-01:00"}
ODD_RETRY_AFTERS = {
    "huge": "1000000000000",
    "float": "1e20",
    "nan": "nan",
    "year1": "Mon, 01 Jan 0001 00:00:00 +0100",
}


def story(n: int, title: str) -> tuple[str, ...]:
    return tuple(
        f"{title}: paragraph {i} of report {n}. Officials in Baghdad met on Tuesday to discuss "
        f"the security situation in the provinces, and several lawmakers said the talks would "
        f"continue next week after the holiday, according to people present at the meeting."
        for i in range(4)
    )


def add_page(room: Newsroom, path: str, title: str, hours_ago: float = 1, host: int = 0) -> str:
    room.add_article(
        Article(host, path, title, story(hash(path) % 1000, title), published=ago(hours_ago))
    )
    return room.url(path, host)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)


def rss(items: list[tuple[str, str, datetime | None]]) -> Reply:
    """``(link, title, published)`` items; the link is written as given."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        + (f"<pubDate>{rfc822(when)}</pubDate>" if when else "")
        + "</item>"
        for link, title, when in items
    )
    xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    return Reply(
        body=xml.encode(), headers={"Content-Type": "application/rss+xml"}, conditional=True
    )


def urlset(entries: list[tuple[str, str]]) -> Reply:
    """``(loc, lastmod)`` entries, the lastmod verbatim."""
    body = "".join(f"<url><loc>{loc}</loc><lastmod>{mod}</lastmod></url>" for loc, mod in entries)
    xml = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
    return Reply(body=xml.encode(), headers={"Content-Type": "application/xml"}, conditional=True)


def index(children: list[str]) -> Reply:
    body = "".join(
        f"<sitemap><loc>{loc}</loc><lastmod>{NOW.isoformat()}Z</lastmod></sitemap>"
        for loc in children
    )
    xml = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>'
    return Reply(body=xml.encode(), headers={"Content-Type": "application/xml"}, conditional=True)


def config(path: Path, sources: dict[str, tuple[str, str]], crawl: str = "") -> Path:
    """``sources``: name -> (url, kind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blocks = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{url}"\nkind = "{kind}"\n\n'
        for name, (url, kind) in sources.items()
    )
    path.write_text(
        f'[storage]\nurl = "sqlite:///{path.parent / "mw.db"}"\n\n[crawl]\n'
        'allow_private_networks = true\ntimeout = "3s"\ndelay = "0s"\n'
        'concurrency_per_domain = 4\nmin_interval = "5m"\nmax_interval = "6h"\n'
        f'{crawl}\n[[clusters]]\nname = "Baghdad"\nterms = ["Baghdad"]\n\n{blocks}',
        encoding="utf-8",
    )
    return path


@dataclass
class Crawled:
    room: Newsroom
    config: Path
    urls: dict[str, str]
    """What each good article's canonical URL is, by a short name."""
    first: dict[str, dict[str, object]]
    status: dict[str, dict[str, object]]
    stored: dict[str, dict[str, object]]


def crawl(config_path: Path) -> dict[str, dict[str, object]]:
    run = mediawatch(config_path, "crawl", "--once", "--format", "json")
    assert run.code == 0, run.err[-3000:]
    assert "Traceback" not in run.err, run.err[-3000:]
    return {row["source"]: row for row in json.loads(run.out)}


def status(config_path: Path) -> dict[str, dict[str, object]]:
    run = mediawatch(config_path, "sources", "status", "--format", "json")
    assert run.code == 0, run.err
    return {row["name"]: row for row in json.loads(run.out)}


def stored(config_path: Path) -> dict[str, dict[str, object]]:
    run = mediawatch(config_path, "export", "--format", "jsonl")
    assert run.code == 0, run.err
    rows = [json.loads(line) for line in run.out.splitlines()]
    return {str(row["url"]): row for row in rows}


def due_in(row: dict[str, object]) -> timedelta:
    """How long after its poll the source is due again."""
    polled = datetime.fromisoformat(str(row["last_poll"]))
    return datetime.fromisoformat(str(row["next_due"])) - polled


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    room = Newsroom().start()
    base = room.base()
    urls: dict[str, str] = {}
    sources: dict[str, tuple[str, str]] = {}

    # 1. A lastmod at either end of time beside a good entry.
    for name, lastmod in ODD_LASTMODS.items():
        odd = add_page(room, f"/{name}/odd.html", f"Odd date {name} Baghdad")
        good = add_page(room, f"/{name}/good.html", f"Good date {name} Baghdad")
        urls[f"{name}-odd"], urls[f"{name}-good"] = odd, good
        room.route(f"/{name}/sitemap.xml", urlset([(odd, lastmod), (good, f"{NOW.isoformat()}Z")]))
        sources[f"Sitemap {name}"] = (f"{base}/{name}/sitemap.xml", "sitemap")

    # 1. A broken link beside a good one.
    urls["beside-broken"] = add_page(room, "/broken/good.html", "Beside a broken link Baghdad")
    room.route(
        "/broken/feed.xml",
        rss([("http://[oops/", "Broken", ago(1)), (urls["beside-broken"], "Good", ago(2))]),
    )
    sources["Broken link"] = (f"{base}/broken/feed.xml", "feed")

    # 2. A sitemap index whose second child is missing at first.
    urls["child-a"] = add_page(room, "/kids/a.html", "Child A Baghdad")
    urls["child-b"] = add_page(room, "/kids/b.html", "Child B Baghdad")
    room.route("/kids/a.xml", urlset([(urls["child-a"], f"{NOW.isoformat()}Z")]))
    room.route("/kids/index.xml", index([f"{base}/kids/a.xml", f"{base}/kids/b.xml"]))
    sources["Index with a missing child"] = (f"{base}/kids/index.xml", "sitemap")

    # 3. Retry-After of every shape a server may send.
    for name, value in ODD_RETRY_AFTERS.items():
        room.route(f"/busy/{name}.xml", Reply(503, b"busy", {"Retry-After": value}))
        sources[f"Retry-After {name}"] = (f"{base}/busy/{name}.xml", "feed")

    # 4. An item link too long to follow, and a page whose rel=canonical is too long.
    urls["beside-long"] = add_page(room, "/long/good.html", "Beside a long link Baghdad")
    long_link = f"{base}/long/{'x' * 3000}.html"
    long_canonical = f"/long/{'c' * 3000}.html"
    room.add_article(
        Article(0, "/long/canon.html", "Long canonical Baghdad", story(7, "Long canonical"),
                published=ago(3), canonical=long_canonical)
    )  # fmt: skip
    urls["long-canonical"] = room.url("/long/canon.html")
    room.route(
        "/long/feed.xml",
        rss([(long_link, "Too long", ago(1)), (urls["beside-long"], "Good", ago(2)),
             (urls["long-canonical"], "Canonical too long", ago(3))]),
    )  # fmt: skip
    sources["Long links"] = (f"{base}/long/feed.xml", "feed")

    # 5. A busy feed (every 10 minutes) with one entry dated 1970.
    busy = [(add_page(room, f"/busy/{n}.html", f"Busy {n} Baghdad"), f"Busy {n}", ago(n / 6))
            for n in range(1, 9)]  # fmt: skip
    busy.append(
        (add_page(room, "/busy/epoch.html", "Epoch Baghdad"), "Epoch", datetime(1970, 1, 1))
    )
    room.route("/busy/feed.xml", rss(busy))
    sources["Busy with a 1970 date"] = (f"{base}/busy/feed.xml", "feed")

    # 14. An exact feed timestamp against a page whose only date is in a caption.
    caption_page = (
        "<html><head><title>Caption date Baghdad</title></head><body><article>"
        "<h1>Caption date Baghdad</h1>"
        + "".join(f"<p>{p}</p>" for p in story(9, "Caption date"))
        + "<figure><figcaption>Protesters in Baghdad, Nov. 6, 2019. (File photo)"
        "</figcaption></figure></article></body></html>"
    )
    room.route("/dates/caption.html", page(caption_page))
    urls["caption"] = room.url("/dates/caption.html")
    urls["other-dated"] = add_page(room, "/dates/other.html", "Other dated Baghdad")
    room.route(
        "/dates/feed.xml",
        rss([(urls["caption"], "Caption date", ago(2)), (urls["other-dated"], "Other", ago(5))]),
    )
    sources["Caption dates"] = (f"{base}/dates/feed.xml", "feed")

    path = config(tmp_path_factory.mktemp("loss") / "config.toml", sources)
    assert mediawatch(path, "init").code == 0
    first = crawl(path)
    yield Crawled(room, path, urls, first, status(path), stored(path))
    room.stop()


def test_an_odd_lastmod_costs_no_article_and_no_validators(crawled: Crawled) -> None:
    for name in ODD_LASTMODS:
        assert canonical_url(crawled.urls[f"{name}-good"]) in crawled.stored
        assert canonical_url(crawled.urls[f"{name}-odd"]) in crawled.stored  # undated: followed
        assert crawled.status[f"Sitemap {name}"]["result"] == "ok"


def test_a_broken_link_is_skipped_with_its_reason_and_the_rest_followed(crawled: Crawled) -> None:
    assert canonical_url(crawled.urls["beside-broken"]) in crawled.stored
    row = crawled.status["Broken link"]
    assert row["result"] == "ok"
    assert "1 unusable entries skipped" in str(row["error"])
    assert due_in(row) >= MIN_INTERVAL * 0.8  # settled: not due again at once


def test_a_missing_child_sitemap_is_fetched_once_it_appears(crawled: Crawled) -> None:
    name = "Index with a missing child"
    row = crawled.status[name]
    assert row["result"] == "partial"
    assert "kids/b.xml: HTTP 404" in str(row["error"])
    assert canonical_url(crawled.urls["child-a"]) in crawled.stored
    assert timedelta(0) < due_in(row) <= MIN_INTERVAL * 1.2  # retried soon, not every tick
    crawled.room.route("/kids/b.xml", urlset([(crawled.urls["child-b"], f"{NOW.isoformat()}Z")]))
    again = crawl(crawled.config)
    assert again[name]["status"] == "ok"  # the index was read whole again, not a 304
    assert canonical_url(crawled.urls["child-b"]) in stored(crawled.config)
    assert status(crawled.config)[name]["result"] == "ok"


def test_any_retry_after_is_recorded_within_max_interval(crawled: Crawled) -> None:
    for name in ODD_RETRY_AFTERS:
        row = crawled.status[f"Retry-After {name}"]
        assert row["result"] == "error" and row["http"] == 503
        assert timedelta(0) < due_in(row) <= MAX_INTERVAL * 1.1 + timedelta(minutes=1)
    # ... and every other source's poll was recorded too.
    assert all(row["last_poll"] for row in crawled.status.values())


def test_overlong_urls_never_loop_the_source(crawled: Crawled) -> None:
    row = crawled.status["Long links"]
    assert row["result"] == "ok"
    assert "longer than 2083 characters" in str(row["error"])
    assert due_in(row) >= MIN_INTERVAL * 0.8
    assert canonical_url(crawled.urls["beside-long"]) in crawled.stored
    # The page whose rel=canonical is too long is kept under the URL it was listed as.
    assert canonical_url(crawled.urls["long-canonical"]) in crawled.stored
    assert all(len(url) <= 2083 for url in crawled.stored)


def test_one_1970_date_does_not_throttle_a_busy_feed(crawled: Crawled) -> None:
    row = crawled.status["Busy with a 1970 date"]
    assert row["result"] == "ok"
    assert due_in(row) <= timedelta(minutes=30)  # a ten-minute publisher, not six hours


def test_an_exact_feed_time_beats_a_date_in_a_caption(crawled: Crawled) -> None:
    article = crawled.stored[canonical_url(crawled.urls["caption"])]
    published = datetime.fromisoformat(str(article["published_at"])).replace(tzinfo=None)
    assert abs(published - ago(2)) < timedelta(minutes=1)


def test_one_cap_per_poll_bounded_depth_and_the_index_own_site(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        base = room.base()
        children = []
        for c in range(5):
            pages = [(add_page(room, f"/cap/{c}/{n}.html", f"Cap {c} {n} Baghdad", c + n / 10),
                      f"{NOW.isoformat()}Z") for n in range(4)]  # fmt: skip
            room.route(f"/cap/{c}.xml", urlset(pages))
            children.append(f"{base}/cap/{c}.xml")
        # Nested indexes: top -> nested -> deeper -> deepest (not followed) ...
        room.route("/deep/top.xml", index([f"{base}/deep/nested.xml", *children]))
        room.route("/deep/nested.xml", index([f"{base}/deep/deeper.xml"]))
        room.route("/deep/deeper.xml", index([f"{base}/deep/deepest.xml"]))
        room.route("/deep/deepest.xml", urlset([]))
        # ... and a child on another host, not followed without sitemap_hosts.
        elsewhere = room.url("/elsewhere.xml", 1)
        room.route("/elsewhere.xml", urlset([]), host=1)
        room.route("/other/top.xml", index([elsewhere]))
        path = config(
            tmp_path / "config.toml",
            {"Capped index": (f"{base}/deep/top.xml", "sitemap"),
             "Other host": (f"{base}/other/top.xml", "sitemap")},
            crawl="max_articles_per_poll = 10\n",
        )  # fmt: skip
        assert mediawatch(path, "init").code == 0
        crawl(path)
        assert room.article_hits() == 10  # 5 children x 4 pages, one budget of 10
        assert room.hits("/deep/deeper.xml") == 1 and room.hits("/deep/deepest.xml") == 0
        assert room.hits("/elsewhere.xml", host=1) == 0
        rows = status(path)
        assert "another site" in str(rows["Other host"]["error"])
        assert "nested deeper" in str(rows["Capped index"]["error"])
        crawl(path)  # the capped rest comes with the next poll
        assert len(stored(path)) == 20
    finally:
        room.stop()


def test_a_304_to_an_unconditional_request_is_not_taken_for_not_modified(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        room.route("/lazy/feed.xml", Reply(304, b"", {"ETag": '"forever"'}))
        path = config(
            tmp_path / "config.toml", {"Always 304": (room.url("/lazy/feed.xml"), "feed")}
        )
        assert mediawatch(path, "init").code == 0
        crawl(path)
        row = status(path)["Always 304"]
        assert row["result"] == "error"
        assert "304 Not Modified to a request without validators" in str(row["error"])
    finally:
        room.stop()


def test_a_server_that_chokes_on_our_validators_is_asked_afresh(tmp_path: Path) -> None:
    """A 412 to every conditional request would keep the source failing for good."""
    room = Newsroom().start()
    try:
        url = add_page(room, "/picky/story.html", "Picky server Baghdad")
        feed = rss([(url, "Picky", ago(1))])

        def picky(request):  # type: ignore[no-untyped-def]
            if "if-none-match" in request.headers or "if-modified-since" in request.headers:
                return Reply(412, b"precondition failed")
            return feed

        room.route("/picky/feed.xml", picky)
        path = config(tmp_path / "config.toml", {"Picky": (room.url("/picky/feed.xml"), "feed")})
        assert mediawatch(path, "init").code == 0
        results = []
        for _ in range(3):
            results.append(crawl(path)["Picky"]["status"])
        assert results == ["ok", "error", "ok"]
        assert canonical_url(url) in stored(path)
    finally:
        room.stop()


def test_a_feed_cut_short_is_read_again_whole(tmp_path: Path) -> None:
    """The server hangs up half-way through the feed: what arrived is used, but the poll
    is partial, so its ETag is not kept and the next poll reads the whole feed."""
    room = Newsroom().start()
    try:
        urls = [add_page(room, f"/cut/{n}.html", f"Cut short {n} Baghdad") for n in range(6)]
        whole = rss([(url, f"Item {n}", ago(n + 1)) for n, url in enumerate(urls)])
        cut = Reply(200, whole.body, {**whole.headers, "ETag": '"v1"'}, cut_at=len(whole.body) // 2)
        room.route("/cut/feed.xml", cut)
        path = config(tmp_path / "config.toml", {"Cut short": (room.url("/cut/feed.xml"), "feed")})
        assert mediawatch(path, "init").code == 0
        first = crawl(path)["Cut short"]
        assert first["status"] == "partial" and "cut short" in str(first["error"])
        assert len(stored(path)) < len(urls)
        room.route("/cut/feed.xml", whole)  # the server behaves again
        assert crawl(path)["Cut short"]["status"] == "ok"
        assert {canonical_url(url) for url in urls} <= set(stored(path))
    finally:
        room.stop()
