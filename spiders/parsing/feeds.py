"""Feeds to entries: RSS 0.9x/2.0, Atom and RDF through feedparser, JSON Feed by hand.

Pure: bytes and headers in, a ``ParsedFeed`` out. Like feedparser, problems are
results, not exceptions: a "bozo" feed that still yields entries is used; one that
yields nothing has ``error`` set and the caller records a source error. One entry that
cannot be read (a link like ``http://[oops/``, a date in year 0) is skipped with its
reason counted in ``skipped``; it never costs the feed's other entries.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml.etree import ParserError

from clock.moments import utc

logger = logging.getLogger(__name__)

JSON_FEED_TYPES = ("application/feed+json", "application/json")
_SY_PERIOD_SECONDS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed; ``link`` is absolute but not yet canonical."""

    link: str
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    """Naive UTC."""
    publisher_name: str | None = None
    """An aggregator item's ``<source>`` (the real publisher), else None."""
    publisher_url: str | None = None
    language: str | None = None
    author: str | None = None
    exact_time: bool = True
    """False when ``published`` looks like the feed's build time rather than the entry's
    own (see ``mark_build_times``): then a date on the page is preferred."""


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[FeedEntry, ...] = ()
    title: str = ""
    language: str | None = None
    format: str = ""
    """feedparser's version (``rss20``, ``atom10``, ``rss10``...) or ``json``."""
    bozo: str | None = None
    """Why the feed is not well formed, when it is not (entries may still be usable)."""
    error: str | None = None
    """Set when nothing usable came out: the poll is a source error."""
    ttl_hint: timedelta | None = None
    """How often the publisher says to poll (RSS ``ttl``, ``sy:updatePeriod``/``Frequency``)."""
    skipped: tuple[str, ...] = ()
    """Why each unusable entry was left out (one reason per entry)."""


MAX_TTL = timedelta(days=30)
"""A publisher's polling hint beyond this is junk (the policy caps it anyway)."""


def looks_like_json(body: bytes, content_type: str = "") -> bool:
    media = content_type.split(";")[0].strip().lower()
    if media in JSON_FEED_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url`` (headers let encodings resolve)."""
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    if looks_like_json(body, headers.get("content-type", "")):
        return parse_json_feed(body, url)
    parsed = feedparser.parse(
        body,
        response_headers={**headers, "content-location": url},
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    bozo = str(parsed.get("bozo_exception") or "") if parsed.get("bozo") else None
    feed = parsed.get("feed", {})
    language = _language(feed.get("language"))
    entries: list[FeedEntry] = []
    skipped: list[str] = []
    for raw in parsed.get("entries", []):
        try:
            entries.append(_entry(raw, url, language))
        except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
            skipped.append(_unusable(exc))
    entries = mark_build_times(
        entries, _struct_time(_own(feed, "updated_parsed") or _own(feed, "published_parsed"))
    )
    error = None
    if not entries and bozo:
        error = f"not a usable feed: {bozo}"
    elif not entries and not parsed.get("version"):
        error = "not a feed (no RSS, Atom or RDF document found)"
    return ParsedFeed(
        entries=tuple(entries),
        title=_text(feed.get("title")),
        language=language,
        format=str(parsed.get("version") or ""),
        bozo=bozo,
        error=error,
        ttl_hint=ttl_hint(feed),
        skipped=tuple(skipped),
    )


def mark_build_times(entries: list[FeedEntry], built_at: datetime | None) -> list[FeedEntry]:
    """Entries whose timestamp is the feed's build time, not their own, marked inexact.

    A feed generator that stamps every item with the moment it rendered the feed gives
    all entries one time, or the feed's own ``lastBuildDate``/``updated``: such a time
    says nothing about when the story was published, so the page's date is used."""
    dated = [entry.published for entry in entries if entry.published is not None]
    all_alike = len(dated) >= 2 and len(set(dated)) == 1
    return [
        replace(entry, exact_time=False)
        if entry.published is not None and (all_alike or entry.published == built_at)
        else entry
        for entry in entries
    ]


def _entry(raw: Mapping[str, Any], base: str, feed_language: str | None) -> FeedEntry:
    link = absolute_link(base, _link(raw))
    if link is None:
        raise ValueError(f"no usable link ({_link(raw)[:80]!r})")
    source = raw.get("source") or {}
    publisher_name = _text(source.get("title")) or None
    publisher_url = source.get("href") or source.get("url") or None
    summary = raw.get("summary") or ""
    if not summary and raw.get("content"):
        summary = raw["content"][0].get("value", "")
    return FeedEntry(
        link=link,
        title=_text(raw.get("title")),
        summary=html_to_text(summary),
        published=_struct_time(_own(raw, "published_parsed") or _own(raw, "updated_parsed")),
        publisher_name=publisher_name,
        publisher_url=publisher_url,
        language=_language(raw.get("language")) or feed_language,
        author=_text(raw.get("author")) or None,
    )


def _link(raw: Mapping[str, Any]) -> str:
    link = raw.get("link")
    if link:
        return str(link)
    for candidate in raw.get("links", []):
        if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
            return str(candidate["href"])
    guid = raw.get("id") or ""
    return str(guid) if str(guid).startswith(("http://", "https://")) else ""


def _unusable(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ValueError) else f"unreadable entry: {type(exc).__name__}"


def absolute_link(base: str, link: object) -> str | None:
    """``link`` resolved against ``base`` when it is a usable http(s) URL, else None
    (``urljoin`` raises on a broken IPv6 host such as ``http://[oops/``)."""
    if not isinstance(link, str) or not link.strip():
        return None
    try:
        joined = urljoin(base, link.strip())
    except ValueError:
        return None
    return joined if joined.startswith(("http://", "https://")) else None


def ttl_hint(feed: Mapping[str, Any]) -> timedelta | None:
    """The publisher's polling hint: RSS ``ttl`` minutes, else ``sy:updatePeriod``/``Frequency``;
    at most ``MAX_TTL``."""
    ttl = str(feed.get("ttl") or "").strip()
    if ttl.isdigit() and int(ttl) > 0:
        return timedelta(minutes=min(int(ttl), int(MAX_TTL.total_seconds() // 60)))
    period = str(feed.get("sy_updateperiod") or "").strip().lower()
    if period in _SY_PERIOD_SECONDS:
        frequency = str(feed.get("sy_updatefrequency") or "1").strip()
        times = int(frequency) if frequency.isdigit() and int(frequency) > 0 else 1
        return min(MAX_TTL, timedelta(seconds=_SY_PERIOD_SECONDS[period] / times))
    return None


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return ParsedFeed(format="json", bozo=str(exc), error=f"not a usable JSON feed: {exc}")
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        return ParsedFeed(format="json", error="not a JSON feed (no items list)")
    language = _language(document.get("language"))
    entries: list[FeedEntry] = []
    skipped: list[str] = []
    for item in document["items"]:
        try:
            entries.append(_json_entry(item, url, language))
        except (ValueError, TypeError, OverflowError, AttributeError, KeyError) as exc:
            skipped.append(_unusable(exc))
    return ParsedFeed(
        entries=tuple(mark_build_times(entries, None)),
        title=str(document.get("title") or ""),
        language=language,
        format="json",
        skipped=tuple(skipped),
    )


def _json_entry(item: object, url: str, language: str | None) -> FeedEntry:
    if not isinstance(item, dict):
        raise TypeError("an item that is not an object")
    raw_link = item.get("url") or item.get("external_url")
    if not raw_link and str(item.get("id", "")).startswith(("http://", "https://")):
        raw_link = item["id"]
    link = absolute_link(url, raw_link)
    if link is None:
        raise ValueError(f"no usable link ({str(raw_link)[:80]!r})")
    summary = item.get("summary") or item.get("content_text") or ""
    if not summary and item.get("content_html"):
        summary = html_to_text(str(item["content_html"]))
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    if not isinstance(authors, list):
        authors = [authors]
    names = (_text(a.get("name")) for a in authors if isinstance(a, dict))
    author = next((name for name in names if name), None)  # names may be numbers
    return FeedEntry(
        link=link,
        title=str(item.get("title") or "").strip(),
        summary=str(summary).strip(),
        published=parse_feed_date(item.get("date_published") or item.get("date_modified")),
        language=_language(item.get("language")) or language,
        author=author,
    )


def parse_feed_date(value: object) -> datetime | None:
    """A feed's or sitemap's date, RFC 3339 / ISO 8601 or RFC 822, to naive UTC; None when
    unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    try:
        return utc(moment)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        return None


def _struct_time(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime(1970, 1, 1) + timedelta(seconds=calendar.timegm(value))
    except (OverflowError, ValueError, TypeError):
        return None


def html_to_text(fragment: str) -> str:
    """Feed summaries are HTML; keep their text, one space between blocks."""
    if "<" not in fragment and "&" not in fragment:
        return fragment.strip()
    try:
        text = lxml.html.fromstring(f"<div>{fragment}</div>").text_content()
    except (ParserError, ValueError):
        text = re.sub(r"<[^>]+>", " ", fragment)
    return re.sub(r"\s+", " ", text).strip()


def _own(parsed: Mapping[str, Any], key: str) -> Any:
    """``parsed[key]`` as feedparser really found it, without its deprecated fallbacks
    (asking ``updated_parsed`` of an entry without one maps to ``published_parsed``)."""
    return dict.get(parsed, key) if isinstance(parsed, dict) else parsed.get(key)


def _text(value: object) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _language(value: object) -> str | None:
    """``en-US`` -> ``en``; junk -> None."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if re.fullmatch(r"[a-z]{2,3}", code) else None
