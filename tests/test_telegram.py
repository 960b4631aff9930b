"""Telegram channels as sources: the preview page read into posts (pure), and the real
``mediawatch crawl --once`` polling channels served by the local newsroom, where each post
is an article, one request a channel a poll, and forwards of one post are one story."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from support.newsroom import Article, Newsroom, page, redirect
from support.processes import Run, mediawatch
from support.telegram_pages import Channel, Post, add_channel, channels_config, render_channel

from config.models import SourceConfig
from spiders.parsing.telegram import channel_of, parse_channel_page

BASE = "https://t.me"
NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
FORWARDED_TEXT = "Peshmerga and Iraqi army open joint patrols in Kirkuk\n" + " ".join(
    f"The joint command said patrols cover district {n} and its roads." for n in range(8)
)


def _ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def _news_channel() -> Channel:
    return Channel(
        "iraqwatch",
        "Iraq Watch Channel",
        [
            Post(101, "Old post about the weather in Erbil", _ago(30)),
            Post(102, "  Interior Ministry announces curfew in Basra  \nDetails follow.", _ago(5)),
            Post(103, "Rocket attack reported near Baghdad airport", _ago(4), photo=True),
            Post(104, "", _ago(3.5), photo=True),  # a photo without caption: nothing to read
            Post(105, "Channel photo updated", _ago(3.2), service=True),
            Post(106, FORWARDED_TEXT, _ago(3), forwarded_from=("Kurdistan 24", f"{BASE}/k24/9")),
            Post(107, "Reply: the curfew ends at six tomorrow", _ago(2), reply_to="Old quote"),
            Post(108, "Post with an odd date stamp for the archive", raw_datetime="yesterday"),
            Post(109, "Post with no time element at all in it", None, views=None),
        ],
    )


# ---- the page, read ---------------------------------------------------------------------


def test_each_post_is_read_with_its_text_time_views_and_link() -> None:
    read = parse_channel_page(render_channel(_news_channel(), BASE), f"{BASE}/s/iraqwatch")
    assert read.error is None
    assert read.title == "Iraq Watch Channel"
    posts = {post.id: post for post in read.posts}
    assert sorted(posts) == [101, 102, 103, 106, 107, 108, 109]
    curfew = posts[102]
    assert curfew.url == "https://t.me/iraqwatch/102"
    assert curfew.title == "Interior Ministry announces curfew in Basra"
    assert curfew.text.splitlines()[1] == "Details follow."
    assert curfew.published == _ago(5)
    assert curfew.views == 1200
    assert posts[103].text == "Rocket attack reported near Baghdad airport"  # a caption
    assert posts[106].forwarded_from == "Kurdistan 24"
    assert posts[106].forwarded_url == f"{BASE}/k24/9"
    assert posts[107].text == "Reply: the curfew ends at six tomorrow"  # not the quote
    assert posts[108].published is None and posts[109].published is None
    assert posts[109].views is None
    assert any("104 has no text" in reason for reason in read.skipped)


def test_the_load_more_link_gives_the_next_older_page() -> None:
    channel = Channel(
        "busy", "Busy", [Post(n, f"Post number {n} of a busy channel") for n in range(1, 46)]
    )
    first = parse_channel_page(render_channel(channel, BASE), f"{BASE}/s/busy")
    assert [post.id for post in first.posts] == list(range(26, 46))
    assert first.before == 26
    older = parse_channel_page(render_channel(channel, BASE, first.before), f"{BASE}/s/busy")
    assert [post.id for post in older.posts] == list(range(6, 26))
    last = parse_channel_page(render_channel(channel, BASE, 6), f"{BASE}/s/busy")
    assert [post.id for post in last.posts] == list(range(1, 6)) and last.before is None


def test_a_post_of_another_channel_is_skipped() -> None:
    channel = Channel(
        "mine", "Mine", [Post(1, "A post that claims another channel")], data_post_name="theirs"
    )
    read = parse_channel_page(render_channel(channel, BASE), f"{BASE}/s/mine")
    assert read.posts == [] and "not a post of mine" in read.skipped[0]


def test_times_are_exact_and_in_utc() -> None:
    tehran = datetime(2026, 11, 29, 10, 30, tzinfo=UTC).astimezone()  # any zone
    zoned = Post(1, "Zoned time of a post in Tehran", raw_datetime="2026-11-29T14:00:00+03:30")
    channel = Channel("c", "C", [zoned, Post(2, "Local zone post here", tehran)])
    posts = parse_channel_page(render_channel(channel, BASE), f"{BASE}/s/c").posts
    assert [post.published for post in posts] == [datetime(2026, 11, 29, 10, 30)] * 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00 binary", "empty or not HTML"),
        (b"<html><body><h1>If you have Telegram, you can contact</h1></body></html>", "preview"),
    ],
)
def test_a_page_that_is_not_a_preview_is_an_error_not_an_exception(body: bytes, error: str) -> None:
    assert error in (parse_channel_page(body, f"{BASE}/s/gone").error or "")


def test_broken_html_gives_the_posts_before_the_break() -> None:
    html = render_channel(_news_channel(), BASE)
    cut = html[: html.index('data-post="iraqwatch/106"') + 40]
    read = parse_channel_page(cut.encode(), f"{BASE}/s/iraqwatch")
    assert [post.id for post in read.posts][:3] == [101, 102, 103]


def test_a_huge_page_parses() -> None:
    channel = Channel(
        "huge",
        "Huge",
        [Post(n, f"Post {n} " + "word " * 200, _ago(n / 100)) for n in range(1, 3001)],
        page_size=0,
    )
    read = parse_channel_page(render_channel(channel, BASE), f"{BASE}/s/huge")
    assert len(read.posts) == 3000


def test_channel_of_reads_only_preview_urls() -> None:
    assert channel_of("https://t.me/s/Sabereen_News/") == "Sabereen_News"
    assert channel_of("https://t.me/Sabereen_News") is None
    assert channel_of("https://t.me/s/a/b") is None


_TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
_POSTS = st.lists(
    st.builds(
        Post,
        id=st.integers(0, 10**12),
        text=_TEXT,
        published=st.none() | st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
        raw_datetime=st.none() | _TEXT,
        views=st.none() | _TEXT,
        forwarded_from=st.none() | st.tuples(_TEXT, _TEXT),
        photo=st.booleans(),
        reply_to=st.none() | _TEXT,
        service=st.booleans(),
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    posts=_POSTS,
    title=_TEXT,
    foreign=st.none() | st.sampled_from(["other", "IRAQWATCH", "", "iraqwatch/5"]),
    cut=st.none() | st.integers(0, 20_000),
    junk=st.binary(max_size=40),
)
def test_any_preview_page_parses_and_every_post_is_on_the_channel(
    posts: list[Post], title: str, foreign: str | None, cut: int | None, junk: bytes
) -> None:
    channel = Channel("iraqwatch", title, posts, data_post_name=foreign)
    body = render_channel(channel, "http://127.0.0.1:8080").encode("utf-8")
    if cut is not None:
        body = body[:cut] + junk + body[cut:]
    read = parse_channel_page(body, "http://127.0.0.1:8080/s/iraqwatch")
    for post in read.posts:
        assert post.url == f"http://127.0.0.1:8080/iraqwatch/{post.id}"
        assert post.text and "\n" not in post.title and len(post.title) <= 301


def test_config_checks_the_shape_of_a_telegram_url() -> None:
    SourceConfig(name="c", url="https://t.me/s/sabereen_news", kind="telegram")
    with pytest.raises(ValidationError, match=r"t\.me/s/CHANNEL"):
        SourceConfig(name="c", url="https://t.me/sabereen_news", kind="telegram")
    with pytest.raises(ValidationError, match='kind = "html"'):
        SourceConfig(name="c", url="https://t.me/s/x", kind="telegram", selectors={"item": "li"})


def test_config_checks_listing_selectors() -> None:
    SourceConfig(name="l", url="https://x.example/news", kind="html", selectors={"item": "li"})
    with pytest.raises(ValidationError, match="item"):
        SourceConfig(name="l", url="https://x.example/", kind="html", selectors={"link": "a"})
    with pytest.raises(ValidationError, match="not valid CSS"):
        SourceConfig(name="l", url="https://x.example/", kind="html", selectors={"item": "li[["})


# ---- the crawl, for real ----------------------------------------------------------------

FORWARDERS = [f"relay{n}" for n in range(10)]


@dataclass
class Crawled:
    room: Newsroom
    config: Path
    first: dict[str, dict[str, object]]
    second: dict[str, dict[str, object]]
    hits_first: dict[str, int]
    export: list[dict[str, object]]
    status: dict[str, dict[str, object]]
    db: Path


def _rows(run: Run) -> dict[str, dict[str, object]]:
    assert run.code == 0, run.err[-3000:]
    return {str(row["source"]): row for row in json.loads(run.out)}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    room = Newsroom().start()
    add_channel(room, _news_channel())
    for n, name in enumerate(FORWARDERS):
        add_channel(
            room,
            Channel(
                name,
                f"Relay Channel {n}",
                [
                    Post(500 + n, f"Unrelated note number {n} from this relay", _ago(6)),
                    Post(
                        600 + n,
                        FORWARDED_TEXT,
                        _ago(2.5 - n / 10),
                        forwarded_from=("Kurdistan 24", ""),
                    ),
                ],
            ),
        )
    add_channel(
        room,
        Channel(
            "huge",
            "Huge",
            [Post(n, "Peshmerga " + "word " * 400, _ago(1)) for n in range(1, 1200)],
            page_size=0,
        ),
    )
    broken = render_channel(
        Channel(
            "broken",
            "Broken",
            [
                Post(1, "First readable post of a broken page", _ago(2)),
                Post(2, "Second post, cut in the middle of its text", _ago(1)),
            ],
        ),
        room.base(),
    )
    room.route("/s/broken", page(broken[: broken.index("cut in the middle") + 8]))
    room.route("/s/nopreview", redirect("/nopreview"))
    room.route("/nopreview", page("<html><body><a class='tgme_action_button'>View in Telegram</a>"))
    names = ["iraqwatch", *FORWARDERS, "huge", "broken", "nopreview"]
    config = channels_config(tmp_path_factory.mktemp("telegram") / "config.toml", room, names)
    assert mediawatch(config, "init").code == 0
    first = _rows(mediawatch(config, "crawl", "--once", "--format", "json"))
    hits_first = {name: room.hits(f"/s/{name}") for name in names}
    room.reset_counts()
    second = _rows(mediawatch(config, "crawl", "--once", "--format", "json"))
    export = mediawatch(config, "export", "--format", "jsonl")
    status = mediawatch(config, "sources", "status", "--format", "json")
    assert export.code == 0 and status.code == 0, export.err + status.err
    yield Crawled(
        room,
        config,
        first,
        second,
        hits_first,
        [json.loads(line) for line in export.out.splitlines()],
        {str(row["name"]): row for row in json.loads(status.out)},
        config.parent / "data" / "mediawatch.db",
    )
    room.stop()


@pytest.mark.slow
def test_each_post_is_an_article_with_the_posts_own_fields(crawled: Crawled) -> None:
    base = crawled.room.base()
    stored = {str(a["url"]): a for a in crawled.export}
    curfew = stored[f"{base}/iraqwatch/102"]
    assert curfew["title"] == "Interior Ministry announces curfew in Basra"
    assert curfew["source"] == "Iraq Watch Channel"
    assert curfew["published_at"] == _ago(5).isoformat() + "Z"
    assert curfew["language"] == "en"
    assert curfew["views"] == 1200  # as the post's page showed it ("1.2K")
    assert stored[f"{base}/iraqwatch/109"]["views"] is None  # its page showed none
    assert stored[f"{base}/iraqwatch/103"]["text"] == "Rocket attack reported near Baghdad airport"
    assert stored[f"{base}/iraqwatch/108"]["published_at"] is None  # fetched_at stands in
    ours = {url for url in stored if url.startswith(f"{base}/iraqwatch/")}
    assert ours == {f"{base}/iraqwatch/{n}" for n in (101, 102, 103, 106, 107, 108, 109)}
    row = crawled.first["tg iraqwatch"]
    assert row["status"] == "ok" and row["new"] + row["duplicates"] == 7  # type: ignore[operator]


@pytest.mark.slow
def test_ten_forwards_of_one_post_are_one_story_with_ten_copies(crawled: Crawled) -> None:
    copies = [a for a in crawled.export if str(a["title"]).startswith("Peshmerga and Iraqi army")]
    assert len(copies) == 11  # ten relays and the channel that forwarded it first
    originals = [a for a in copies if a["duplicate_of"] is None]
    assert len(originals) == 1
    assert {a["duplicate_of"] for a in copies if a["duplicate_of"]} == {originals[0]["url"]}
    assert len({a["source"] for a in copies}) == 11
    with sqlite3.connect(crawled.db) as db:
        authors = {
            row[0]
            for row in db.execute(
                "SELECT author FROM articles WHERE title LIKE 'Peshmerga and Iraqi army%'"
            )
        }
    assert authors == {"Kurdistan 24"}  # "forwarded from" kept


@pytest.mark.slow
def test_one_request_per_channel_per_poll_and_nothing_new_the_second_time(
    crawled: Crawled,
) -> None:
    assert crawled.hits_first["iraqwatch"] == 1
    assert all(crawled.room.hits(f"/s/{name}") == 1 for name in ["iraqwatch", *FORWARDERS])
    assert all(row["new"] == 0 for row in crawled.second.values())


@pytest.mark.slow
def test_hostile_channels_are_recorded_not_fatal(crawled: Crawled) -> None:
    assert crawled.first["tg huge"]["status"] == "error"  # 1,200 posts of 2 KB: over the cap
    assert "preview" in str(crawled.first["tg nopreview"]["error"])
    assert crawled.first["tg broken"]["status"] == "ok"
    urls = {str(a["url"]) for a in crawled.export}
    assert f"{crawled.room.base()}/broken/1" in urls
    for name in ("tg iraqwatch", "tg huge", "tg nopreview", "tg relay3"):
        assert name in crawled.status  # `sources status` shows channels like feeds
    assert crawled.status["tg iraqwatch"]["kind"] == "telegram"
    broken = crawled.status["tg nopreview"]
    assert broken["result"] == "error" and "preview" in str(broken["error"])
    assert int(broken["failures"]) >= 1  # type: ignore[call-overload]


@pytest.mark.slow
def test_only_posts_newer_than_the_newest_stored_are_new(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        channel = Channel(
            "live",
            "Live",
            [Post(n, f"Live post number {n} from the front", _ago(9 - n)) for n in range(1, 6)],
        )
        add_channel(room, channel)
        config = channels_config(tmp_path / "config.toml", room, ["live"])
        assert mediawatch(config, "init").code == 0
        assert (
            _rows(mediawatch(config, "crawl", "--once", "--format", "json"))["tg live"]["new"] == 5
        )
        channel.posts.append(Post(7, "A fresh post after the first poll of today", _ago(0.5)))
        channel.posts.append(Post(6, "Another fresh post after the first poll", _ago(1)))
        channel.posts.append(Post(0, "A post older than the newest one we hold", _ago(20)))
        row = _rows(mediawatch(config, "crawl", "--once", "--format", "json"))["tg live"]
        assert row["new"] == 2 and room.hits("/s/live") == 2
    finally:
        room.stop()


@pytest.mark.slow
def test_a_feedless_listing_page_is_followed_like_a_feed(tmp_path: Path) -> None:
    room = Newsroom().start()
    try:
        paths = [f"/news/2026/11/story-number-{n}-from-the-listing" for n in range(3)]
        for n, path in enumerate(paths):
            room.add_article(
                Article(
                    0,
                    path,
                    f"Listed story number {n} about Peshmerga patrols",
                    [f"Body of listed story {n} about Peshmerga patrols."] * 5,
                    published=_ago(2),
                )
            )
        cards = "".join(
            f'<li class="card"><h3><a href="{p}">Listed story number {n} about '
            f"Peshmerga patrols</a></h3></li>"
            for n, p in enumerate(paths)
        )
        room.route("/latest", page(f"<html><body><main><ul>{cards}</ul></main></body></html>"))
        extra = (
            f'[[sources]]\nname = "listing"\nurl = "{room.url("/latest")}"\nkind = "html"\n'
            'selectors = { item = "li.card", title = "h3" }\n'
        )
        config = channels_config(tmp_path / "config.toml", room, [], extra)
        assert mediawatch(config, "init").code == 0
        row = _rows(mediawatch(config, "crawl", "--once", "--format", "json"))["listing"]
        assert row["status"] == "ok" and row["new"] == 3 and row["entries"] == 3
        assert all(room.hits(path) == 1 for path in paths)
    finally:
        room.stop()
