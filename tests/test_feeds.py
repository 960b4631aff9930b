"""Feeds of every format and every state of repair become entries, or a recorded error."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clock.moments import LONGEST_RETRY_AFTER, retry_after_seconds
from spiders.crawler.article_pages import published_at
from spiders.parsing.aggregators import (
    aggregator_of,
    clean_aggregator_title,
    decode_google_news_link,
    entry_publisher,
)
from spiders.parsing.feeds import MAX_TTL, FeedEntry, parse_feed, parse_feed_date, ttl_hint

ODD_RETRY_AFTERS = [
    "1000000000000",
    "1e20",
    "nan",
    "inf",
    "-5",
    "99999999999999999999999",
    "Mon, 01 Jan 0001 00:00:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -0100",
]
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>Example News</title><link>https://example.com/</link><language>en-GB</language>
<ttl>45</ttl>
<item><title>Militias press for Interior Ministry</title>
<link>https://example.com/news/1?utm_source=rss&amp;utm_medium=feed</link>
<pubDate>Thu, 19 Nov 2026 10:00:00 +0300</pubDate>
<description>&lt;p&gt;Parties linked to the &lt;b&gt;PMF&lt;/b&gt;
want the ministry.&lt;/p&gt;</description>
</item>
<item><title>Relative link</title><link>/news/2</link></item>
<item><title>No link at all</title></item>
</channel></rss>"""


def test_rss_entries_have_absolute_links_utc_dates_and_plain_summaries() -> None:
    feed = parse_feed(RSS, "https://example.com/rss", {"Content-Type": "application/rss+xml"})
    assert feed.error is None and feed.bozo is None
    assert feed.language == "en"
    assert [e.link for e in feed.entries] == [
        "https://example.com/news/1?utm_source=rss&utm_medium=feed",
        "https://example.com/news/2",
    ]
    first = feed.entries[0]
    assert first.published == datetime(2026, 11, 19, 7, 0)
    assert first.summary == "Parties linked to the PMF want the ministry."
    assert first.language == "en"
    assert feed.ttl_hint == timedelta(minutes=45)


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ar"><title>أخبار</title>
<entry><title>وزارة الداخلية</title><link rel="alternate" href="https://example.iq/ar/1"/>
<id>urn:1</id><updated>2026-11-19T08:30:00Z</updated><summary>ملخص الخبر</summary>
<author><name>علي</name></author></entry></feed>""".encode()


def test_atom_entry_keeps_arabic_text_and_author() -> None:
    feed = parse_feed(ATOM, "https://example.iq/feed.atom")
    (entry,) = feed.entries
    assert entry.title == "وزارة الداخلية"
    assert entry.author == "علي"
    assert entry.published == datetime(2026, 11, 19, 8, 30)


RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="https://example.org/"><title>RDF</title><link>https://example.org/</link>
<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency></channel>
<item rdf:about="https://example.org/a"><title>A</title><link>https://example.org/a</link>
<dc:date>2026-11-18T12:00:00+01:00</dc:date></item></rdf:RDF>"""


def test_rdf_feed_and_its_update_period_hint() -> None:
    feed = parse_feed(RDF, "https://example.org/rdf")
    assert feed.format == "rss10"
    assert feed.entries[0].published == datetime(2026, 11, 18, 11, 0)
    assert feed.ttl_hint == timedelta(hours=6)


def test_json_feed_is_parsed_by_hand() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "language": "en",
            "items": [
                {
                    "id": "1",
                    "url": "/a",
                    "title": "A",
                    "content_html": "<p>Body <i>x</i></p>",
                    "date_published": "2026-11-19T10:00:00+02:00",
                    "authors": [{"name": "Kim"}],
                },
                {"id": "2", "title": "no url"},
                "junk",
            ],
        }
    ).encode()
    feed = parse_feed(body, "https://j.example/feed.json", {"content-type": "application/json"})
    (entry,) = feed.entries
    assert (entry.link, entry.summary, entry.author) == ("https://j.example/a", "Body x", "Kim")
    assert entry.published == datetime(2026, 11, 19, 8, 0)
    assert parse_feed(b"{not json", "https://j.example/f.json").error


def test_json_feed_values_of_the_wrong_type_are_coerced() -> None:
    items = [
        {"url": "https://j.example/1", "title": 7, "summary": 3.5, "authors": [{"name": 42}]},
        {"url": "https://j.example/2", "authors": {"name": "Not a list"}},
        {"url": "https://j.example/3", "authors": 5, "author": {"name": "ignored"}},
    ]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    first, second, third = parse_feed(body, "https://j.example/feed.json").entries
    assert (first.title, first.summary, first.author) == ("7", "3.5", "42")
    assert second.author == "Not a list"
    assert third.author is None


FEED_TIME = datetime(2026, 11, 19, 21, 30)
CAPTION_DATE = datetime(2019, 11, 6)
META_DATE = datetime(2026, 11, 19, 0, 0)


@pytest.mark.parametrize(
    ("exact", "page", "page_text", "expected"),
    [
        # The feed's exact per-entry time wins, however far a page date is from it:
        # a caption's "Nov. 6, 2019" must not send a breaking story years back.
        (True, None, CAPTION_DATE, FEED_TIME),
        (True, CAPTION_DATE, None, FEED_TIME),
        (True, META_DATE, None, FEED_TIME),
        # A feed time that is only the feed's build time loses to the page's metadata...
        (False, META_DATE, CAPTION_DATE, META_DATE),
        # ... but beats a date guessed from the page's text.
        (False, None, CAPTION_DATE, FEED_TIME),
    ],
)
def test_the_feed_timestamp_wins_unless_it_is_a_build_time(
    exact: bool, page: datetime | None, page_text: datetime | None, expected: datetime
) -> None:
    entry = FeedEntry("https://x.example/1", published=FEED_TIME, exact_time=exact)
    assert published_at(entry, page, page_text) == expected


def test_without_a_feed_time_page_metadata_beats_page_text() -> None:
    entry = FeedEntry("https://x.example/1")
    assert published_at(entry, META_DATE, CAPTION_DATE) == META_DATE
    assert published_at(entry, None, CAPTION_DATE) == CAPTION_DATE
    assert published_at(entry, None, None) is None


def _rss(*items: str, build: str = "") -> bytes:
    last_build = f"<lastBuildDate>{build}</lastBuildDate>" if build else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{last_build}'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _item(n: int, date: str) -> str:
    return f"<item><title>{n}</title><link>https://x.example/{n}</link><pubDate>{date}</pubDate></item>"


def test_entries_all_stamped_alike_are_build_times() -> None:
    same = "Thu, 19 Nov 2026 21:30:00 GMT"
    entries = parse_feed(_rss(_item(1, same), _item(2, same)), "https://x.example/f").entries
    assert [e.exact_time for e in entries] == [False, False]


def test_an_entry_stamped_with_the_feeds_build_date_is_not_exact() -> None:
    build = "Thu, 19 Nov 2026 21:30:00 GMT"
    body = _rss(_item(1, build), _item(2, "Thu, 19 Nov 2026 20:10:00 GMT"), build=build)
    first, second = parse_feed(body, "https://x.example/f").entries
    assert (first.exact_time, second.exact_time) == (False, True)


def test_distinct_entry_times_are_exact() -> None:
    body = _rss(
        _item(1, "Thu, 19 Nov 2026 21:30:00 GMT"), _item(2, "Thu, 19 Nov 2026 20:10:00 GMT")
    )
    assert all(e.exact_time for e in parse_feed(body, "https://x.example/f").entries)


def test_one_unusable_entry_never_costs_the_others() -> None:
    body = _rss(
        "<item><title>broken</title><link>http://[oops/</link></item>",
        _item(2, "Mon, 01 Jan 0001 00:00:00 +0100"),
        _item(3, "Fri, 31 Dec 9999 23:59:59 -0100"),
        _item(4, "Thu, 19 Nov 2026 20:10:00 GMT"),
    )
    feed = parse_feed(body, "https://x.example/f")
    assert feed.error is None
    assert [e.link for e in feed.entries] == [f"https://x.example/{n}" for n in (2, 3, 4)]
    assert feed.entries[-1].published == datetime(2026, 11, 19, 20, 10)


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "nonsense", ""]
)
def test_dates_at_the_ends_of_time_are_unreadable_not_fatal(value: str) -> None:
    assert parse_feed_date(value) is None


def test_a_huge_ttl_is_capped() -> None:
    body = _rss(_item(1, "Thu, 19 Nov 2026 20:10:00 GMT")).replace(
        b"<title>T</title>", b"<title>T</title><ttl>99999999999999999999</ttl>"
    )
    assert parse_feed(body, "https://x.example/f").ttl_hint == MAX_TTL


def test_bozo_feed_with_entries_is_used() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Broken & bad</title>'
        b"<item><title>Still here</title><link>https://x.example/1</link></item>"
    )
    feed = parse_feed(body, "https://x.example/rss")
    assert feed.bozo and feed.error is None
    assert [e.title for e in feed.entries] == ["Still here"]


@pytest.mark.parametrize(
    "body",
    [bytes(range(256)) * 4, b"<html><body><p>Not a feed</p></body></html>", b""],
)
def test_garbage_is_an_error_result_not_an_exception(body: bytes) -> None:
    feed = parse_feed(body, "https://x.example/rss")
    assert feed.entries == () and feed.error


def test_encodings_declared_in_the_prolog_or_by_a_bom_resolve() -> None:
    arabic = (
        '<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel>'
        "<title>أخبار</title><item><title>تظاهرات في البصرة</title>"
        "<link>https://x.example/1</link></item></channel></rss>"
    ).encode("cp1256")
    latin = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel>'
        "<title>t</title><item><title>Café “quotes”</title>"
        "<link>https://x.example/2</link></item></channel></rss>"
    ).encode("cp1252")
    bom = (
        b"\xef\xbb\xbf"
        + (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
            "<channel><title>t</title><item><title>Ünïcode</title>"
            "<link>https://x.example/3</link></item></channel></rss>"
        ).encode()
    )
    assert parse_feed(arabic, "https://x.example/a").entries[0].title == "تظاهرات في البصرة"
    assert parse_feed(latin, "https://x.example/l").entries[0].title == "Café “quotes”"
    assert parse_feed(bom, "https://x.example/b").entries[0].title == "Ünïcode"


def test_content_type_charset_from_the_response_headers_is_used() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        "<title>البصرة</title><link>https://x.example/1</link></item></channel></rss>"
    ).encode("cp1256")
    headers = {"Content-Type": "application/rss+xml; charset=windows-1256"}
    assert parse_feed(body, "https://x.example/a", headers).entries[0].title == "البصرة"


def test_ttl_hint_prefers_ttl_then_sy_update_period() -> None:
    assert ttl_hint({"ttl": "60"}) == timedelta(hours=1)
    assert ttl_hint({"sy_updateperiod": "hourly", "sy_updatefrequency": "4"}) == timedelta(
        minutes=15
    )
    assert ttl_hint({"ttl": "soon"}) is None


GOOGLE_NEWS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Iraq - Google News</title>
<item><title>Militias press for ministry - Reuters</title>
<link>https://news.google.com/rss/articles/CBMiKWh0dHBzOi8vd3d3LmV4YW1wbGUuY29tL25ld3MvMjAyNC9hcnRpY2xl0gEA?oc=5</link>
<source url="https://www.reuters.com">Reuters</source></item></channel></rss>"""


def test_google_news_items_are_attributed_to_their_source_and_decoded() -> None:
    feed = parse_feed(GOOGLE_NEWS, "https://news.google.com/rss/search?q=iraq")
    (entry,) = feed.entries
    assert aggregator_of("https://news.google.com/rss/search?q=iraq") == "google_news"
    assert (entry.publisher_name, entry.publisher_url) == ("Reuters", "https://www.reuters.com")
    assert decode_google_news_link(entry.link) == "https://www.example.com/news/2024/article"
    assert (
        clean_aggregator_title(entry.title, entry.publisher_name) == "Militias press for ministry"
    )
    assert entry_publisher(entry, entry.link, "news.google.com") == "Reuters"


def test_new_style_google_links_are_left_to_be_followed() -> None:
    assert (
        decode_google_news_link("https://news.google.com/rss/articles/CBMiAU_yqLNabc?oc=5") is None
    )
    assert decode_google_news_link("https://example.com/rss/articles/CBMiK2h0") is None


def test_gdelt_links_point_at_the_publisher() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>GDELT</title>
<item><title>Basra</title><link>https://www.shafaq.com/en/Iraq/basra</link></item>
</channel></rss>"""
    url = "https://api.gdeltproject.org/api/v2/doc/doc?query=basra&mode=artlist&format=rss"
    (entry,) = parse_feed(body, url).entries
    assert aggregator_of(url) == "gdelt"
    assert entry_publisher(entry, entry.link, "shafaq.com") == "shafaq.com"


def test_retry_after_seconds_or_http_date() -> None:
    now = datetime(2026, 11, 20, 12, 0)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(b"Fri, 20 Nov 2026 12:05:00 GMT", now) == 300
    assert retry_after_seconds("Fri, 20 Nov 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None


@given(st.one_of(st.text(max_size=40), st.binary(max_size=40), st.sampled_from(ODD_RETRY_AFTERS)))
def test_any_retry_after_is_a_bounded_number_or_nothing(value: str | bytes) -> None:
    seconds = retry_after_seconds(value, datetime(2026, 11, 20, 12, 0))
    assert seconds is None or 0 <= seconds <= LONGEST_RETRY_AFTER
    if seconds is not None:
        timedelta(seconds=seconds)  # and it makes a date without overflowing
