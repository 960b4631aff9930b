"""Atom feeds for readers: a real desk on a loopback port over a real archive (SQLite and
PostgreSQL); feedparser reads every feed without complaint, and a reader's ETag or date
brings 304s. The builder itself is checked on any text hypothesis can think of."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import Engine
from support.alert_episodes import open_episode
from support.report_archive import CLUSTERS, Archive, make_archive
from support.web import TOKEN, RunningDesk, serve_desk

from config.models import Config
from config.web import WebConfig
from mediawatch.web.atom import AtomEntry, AtomFeed, Link, build_feed, one_line, stable_id
from mediawatch.web.desk import Desk
from mediawatch.web.feeds import is_current
from storage.engine import session_factory, transaction
from storage.models import AlertEpisode

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)> PMF & \"co\" ]]>"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def feed(self) -> feedparser.FeedParserDict:
        assert self.status == 200, (self.status, self.body[:300])
        assert self.headers["content-type"].startswith("application/atom+xml")
        parsed = feedparser.parse(self.body, response_headers=self.headers)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert parsed.version == "atom10"
        return parsed


@dataclass
class FeedDesk:
    running: RunningDesk
    archive: Archive
    now: datetime

    @property
    def base(self) -> str:
        return self.running.base

    def get(self, path: str, headers: dict[str, str] | None = None, /, **params: str) -> Answer:
        """GET ``path`` with the token in the URL, as a feed reader sends it."""
        return self.raw(f"{path}?{urlencode({**params, 'token': TOKEN})}", headers)

    def raw(
        self, path_and_query: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> Answer:
        reply = self.running.request(method, path_and_query, headers=headers)
        return Answer(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.body)


def stock(archive: Archive, now: datetime) -> dict[str, int]:
    """Three PMF stories (one carried twice, one Arabic, one hostile) and a Hezbollah one."""
    basra = archive.add(
        "PMF convoy reaches Basra",
        "A convoy of the Popular Mobilization Forces reached Basra on Tuesday.",
        now - timedelta(hours=3),
        publisher="rudaw.net",
        source="Rudaw",
        summary="The PMF convoy reached Basra.",
    )
    archive.add(
        "PMF convoy reaches Basra",
        "A convoy of the Popular Mobilization Forces reached Basra on Tuesday.",
        now - timedelta(hours=2),
        publisher="shafaq.com",
        copy_of=basra,
    )
    arabic = archive.add(
        "الحشد الشعبي يعلن انتهاء العملية",
        "أعلن الحشد الشعبي انتهاء العملية في المنطقة.",
        now - timedelta(hours=1),
        publisher="alsumaria.tv",
        language="ar",
    )
    hostile = archive.add(
        HOSTILE + "\x07\x1b",
        "The Popular Mobilization Forces said \x0bnothing\x0c\x1b.",
        now - timedelta(hours=5),
        publisher="evil.example",
    )
    archive.add("Hezbollah statement", "Hezbollah said nothing new.", now - timedelta(hours=4))
    return {"basra": basra, "arabic": arabic, "hostile": hostile}


@pytest.fixture
def feeds(migrated_engine: Engine, now: datetime) -> Iterator[FeedDesk]:
    archive = make_archive(migrated_engine)
    stock(archive, now)
    with transaction(session_factory(migrated_engine)) as session:
        open_episode(session, "PMF", now - timedelta(hours=1))
        closed = open_episode(session, "Hezbollah", now - timedelta(days=2))
        closed.status, closed.closed_at = "closed", now - timedelta(days=1)
        closed.feedback, closed.feedback_at = "false_alarm", now - timedelta(hours=20)
    config = Config(clusters=CLUSTERS, web=WebConfig(token_env="MW_TOKEN", title="Desk"))
    desk = Desk(config=config, engine=migrated_engine, token=TOKEN, now=lambda: now)
    with serve_desk(desk) as running:
        yield FeedDesk(running, archive, now)


# -- a cluster's new stories ----------------------------------------------------------------


@pytest.mark.slow
def test_cluster_feed_lists_new_stories_newest_first_one_entry_per_story(feeds: FeedDesk) -> None:
    answer = feeds.get("/feeds/clusters/PMF.atom")
    parsed = answer.feed()
    assert parsed.feed.title == "Desk: PMF: new stories"
    titles = [entry.title for entry in parsed.entries]
    assert titles == ["الحشد الشعبي يعلن انتهاء العملية", "PMF convoy reaches Basra", HOSTILE]
    arabic, basra, _ = parsed.entries
    assert arabic.title_detail.language == "ar"
    assert basra.link.startswith("https://rudaw.net/")
    assert basra.author == "rudaw.net"
    assert "2 articles from 2 publishers: rudaw.net, shafaq.com" in basra.summary
    assert basra.summary.startswith("The PMF convoy reached Basra.")
    published = feeds.now - timedelta(hours=3)
    assert basra.published_parsed[:5] == published.timetuple()[:5]
    assert basra.updated_parsed[:5] == (feeds.now - timedelta(hours=2)).timetuple()[:5]
    assert len({entry.id for entry in parsed.entries}) == 3
    assert all(entry.id.startswith("urn:uuid:") for entry in parsed.entries)
    self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
    assert self_link == f"{feeds.base}/feeds/clusters/PMF.atom"
    assert TOKEN.encode() not in answer.body


@pytest.mark.slow
def test_entry_ids_stay_the_same_as_stories_arrive(feeds: FeedDesk) -> None:
    before = {
        entry.title: entry.id for entry in feeds.get("/feeds/clusters/PMF.atom").feed().entries
    }
    feeds.archive.add("PMF at the border", "The PMF moved north.", feeds.now - timedelta(minutes=5))
    after = feeds.get("/feeds/clusters/PMF.atom").feed().entries
    assert after[0].title == "PMF at the border"
    assert {entry.title: entry.id for entry in after[1:]} == before


@pytest.mark.slow
def test_a_hostile_title_is_text_in_the_feed(feeds: FeedDesk) -> None:
    answer = feeds.get("/feeds/clusters/PMF.atom")
    assert b"<script>" not in answer.body and b"<img" not in answer.body
    assert b"&lt;script&gt;" in answer.body
    assert not any(c in answer.body for c in (b"\x07", b"\x0b", b"\x0c", b"\x1b"))
    hostile = answer.feed().entries[-1]
    assert hostile.title == HOSTILE
    assert hostile.title_detail.type == "text/plain"
    assert "said nothing." in hostile.summary


@pytest.mark.slow
def test_a_cluster_with_a_space_in_its_name_and_no_stories(feeds: FeedDesk) -> None:
    parsed = feeds.get(f"/feeds/clusters/{quote('Kataib Hezbollah')}.atom").feed()
    assert parsed.entries == []
    assert parsed.feed.updated.startswith("1970-01-01")


@pytest.mark.slow
def test_an_unknown_cluster_is_404(feeds: FeedDesk) -> None:
    answer = feeds.get("/feeds/clusters/Nobody.atom")
    assert answer.status == 404
    assert "Nobody" in answer.body.decode()


# -- a saved search -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_saved_search_is_a_feed_of_matching_articles(feeds: FeedDesk) -> None:
    parsed = feeds.get("/feeds/search.atom", q="Basra AND PMF").feed()
    assert [entry.author for entry in parsed.entries] == ["shafaq.com", "rudaw.net"]
    assert all(entry.title == "PMF convoy reaches Basra" for entry in parsed.entries)
    assert "Basra" in parsed.entries[0].summary
    assert parsed.feed.title == "Desk: search: Basra AND PMF"
    alternate = next(link.href for link in parsed.feed.links if link.rel == "alternate")
    assert alternate.startswith(f"{feeds.base}/search?q=Basra")
    assert "token" not in alternate


@pytest.mark.slow
def test_a_saved_search_takes_the_cli_filters(feeds: FeedDesk) -> None:
    arabic = feeds.get("/feeds/search.atom", q="@PMF", language="ar").feed()
    assert [entry.title for entry in arabic.entries] == ["الحشد الشعبي يعلن انتهاء العملية"]
    recent = feeds.get("/feeds/search.atom", q="@PMF", since="150m").feed()
    assert [entry.author for entry in recent.entries] == ["alsumaria.tv", "shafaq.com"]
    by_source = feeds.get("/feeds/search.atom", q="Basra", source="Rudaw").feed()
    assert [entry.author for entry in by_source.entries] == ["rudaw.net"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "  "},
        {"q": '("Basra'},
        {"q": "@Nobody"},
        {"q": "Basra", "since": "last tuesday"},
        {"q": "Basra", "limit": "0"},
        {"q": "Basra", "limit": "many"},
        {"q": "Basra", "limit": "²"},
        {"q": "Basra", "until": "9" * 400},
    ],
)
def test_a_bad_search_is_400_with_the_reason(feeds: FeedDesk, params: dict[str, str]) -> None:
    answer = feeds.get("/feeds/search.atom", **params)
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/json")
    assert b'"error"' in answer.body


# -- the alerts -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_alerts_feed_says_what_when_and_how_unusual(feeds: FeedDesk) -> None:
    parsed = feeds.get("/feeds/alerts.atom").feed()
    assert [entry.title for entry in parsed.entries] == [
        "Spike: PMF, 23 stories (usually 2.1)",
        "Spike: Hezbollah, 23 stories (usually 2.1) (closed)",
    ]
    pmf, hezbollah = parsed.entries
    assert "about 1 in 50,000 under the usual pattern" in pmf.summary
    assert "Window: between 2026-11-20 10:00 and 11:00 UTC" in pmf.summary
    assert "Marked: false alarm" in hezbollah.summary
    assert hezbollah.updated_parsed[:5] == (feeds.now - timedelta(hours=20)).timetuple()[:5]
    assert pmf.link == f"{feeds.base}/clusters/PMF"
    assert parsed.feed.get("language") == "en"
    older = feeds.get("/feeds/alerts.atom", since="1d").feed()
    assert [entry.title for entry in older.entries] == [pmf.title]


@pytest.mark.slow
def test_episode_ids_are_stable(feeds: FeedDesk) -> None:
    first = [entry.id for entry in feeds.get("/feeds/alerts.atom").feed().entries]
    with transaction(session_factory(feeds.archive.engine)) as session:
        episode = session.get(AlertEpisode, 1)
        assert episode is not None
        episode.feedback, episode.feedback_at = "useful", feeds.now
    again = feeds.get("/feeds/alerts.atom").feed()
    assert [entry.id for entry in again.entries] == first
    assert "Marked: useful" in again.entries[0].summary


# -- conditional requests and access --------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "path,params",
    [
        ("/feeds/clusters/PMF.atom", {}),
        ("/feeds/search.atom", {"q": "PMF"}),
        ("/feeds/alerts.atom", {}),
    ],
)
def test_a_reader_with_a_current_copy_gets_304(
    feeds: FeedDesk, path: str, params: dict[str, str]
) -> None:
    first = feeds.get(path, **params)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert feeds.get(path, {"If-None-Match": etag}, **params).status == 304
    assert feeds.get(path, {"If-None-Match": f'"other", {etag}'}, **params).status == 304
    assert feeds.get(path, {"If-Modified-Since": modified}, **params).status == 304
    assert feeds.get(path, {"If-None-Match": '"other"'}, **params).status == 200
    earlier = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert feeds.get(path, {"If-Modified-Since": earlier}, **params).status == 200
    # If-None-Match decides when both are sent (RFC 9110 13.2.2)
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert feeds.get(path, both, **params).status == 200


@pytest.mark.slow
def test_a_head_request_gets_the_validators_without_the_document(feeds: FeedDesk) -> None:
    full = feeds.get("/feeds/alerts.atom")
    head = feeds.raw(f"/feeds/alerts.atom?token={TOKEN}", method="HEAD")
    assert head.status == 200
    assert head.headers["etag"] == full.headers["etag"]
    assert head.body == b""


@pytest.mark.slow
def test_a_new_story_changes_the_validators(feeds: FeedDesk) -> None:
    first = feeds.get("/feeds/clusters/PMF.atom")
    feeds.archive.add("PMF again", "The PMF again.", feeds.now - timedelta(minutes=1))
    second = feeds.get("/feeds/clusters/PMF.atom", {"If-None-Match": first.headers["etag"]})
    assert second.status == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert second.headers["last-modified"] != first.headers["last-modified"]
    other = feeds.get("/feeds/search.atom", {"If-None-Match": first.headers["etag"]}, q="PMF")
    assert other.status == 200


@pytest.mark.slow
def test_feeds_need_the_token_and_take_it_in_the_url(feeds: FeedDesk) -> None:
    refused = feeds.raw("/feeds/clusters/PMF.atom")
    assert refused.status == 401
    assert refused.headers["content-type"].startswith("application/json")
    assert feeds.raw("/feeds/alerts.atom?token=wrong").status == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert feeds.raw("/feeds/alerts.atom", bearer).status == 200


# -- the builder, on any text ---------------------------------------------------------------

ANY_CHARACTER = st.characters(exclude_categories=())
NASTY = st.sampled_from(
    [
        "\x00",
        "\x0b",
        "\x1b",
        "\x7f",
        "\x85",
        "\ud800",
        "\udfff",
        "\ufffe",
        "\uffff",
        "\u202e",
        "\u200f",
        "\r\n",
        "]]>",
        "<",
        "&amp;",
        "&#0;",
        "ال",
        "فارسی",
        "\U0001f600",
    ]
)
TEXT = st.lists(st.one_of(st.text(ANY_CHARACTER, max_size=8), NASTY), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(title=TEXT, summary=TEXT, author=TEXT, language=st.sampled_from([None, "ar", "fa", "en"]))
def test_any_text_makes_a_feed_feedparser_reads(
    title: str, summary: str, author: str, language: str | None
) -> None:
    moment = datetime(2026, 11, 20, 12, 0)
    body = build_feed(
        AtomFeed(
            id=stable_id("feed", title),
            title=title,
            updated=moment,
            author=author,
            links=(Link("http://127.0.0.1/feeds/x.atom", "self"),),
            entries=(
                AtomEntry(
                    id=stable_id("story", title),
                    title=title,
                    updated=moment,
                    link="https://example.org/a",
                    summary=summary,
                    author=author,
                    language=language,
                    categories=(title,),
                ),
            ),
        )
    )
    document = etree.fromstring(body)  # well-formed XML
    expected = one_line(title) or "(no title)"
    assert (
        document.findtext("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
        == expected
    )
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    (entry,) = parsed.entries
    # feedparser "repairs" what looks like UTF-8 read as Latin-1 ("Â¡" becomes "¡") whatever
    # the document says; the feed itself carries the exact title (checked above).
    if not re.search("[\u0080-\u00ff]", expected):
        assert entry.title == expected
    assert "\ud800" not in entry.get("summary", "")


def test_the_same_key_gives_the_same_id_and_another_key_another() -> None:
    assert stable_id("story", "https://a.example/1") == stable_id("story", "https://a.example/1")
    assert stable_id("story", "https://a.example/1") != stable_id("episode", "https://a.example/1")
    assert stable_id("story", "\ud800") != stable_id("story", "")


def test_a_copy_is_current_by_its_etag_first_then_its_date() -> None:
    modified = datetime(2026, 11, 20, 12, 0, 5)
    date = "Fri, 20 Nov 2026 12:00:05 GMT"
    assert is_current('"abc"', None, '"abc"', modified)
    assert is_current('W/"abc"', None, '"abc"', modified)
    assert is_current("*", None, '"abc"', modified)
    assert not is_current('"abd"', date, '"abc"', modified)
    assert is_current(None, date, '"abc"', modified)
    assert is_current(None, "Fri, 20 Nov 2026 13:00:05 +0100", '"abc"', modified)
    assert not is_current(None, "Fri, 20 Nov 2026 12:00:04 GMT", '"abc"', modified)
    assert not is_current(None, "yesterday", '"abc"', modified)
    assert not is_current(None, None, '"abc"', modified)
