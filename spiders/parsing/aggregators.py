"""Aggregator feeds whose items point at other publishers: Google News RSS, GDELT.

Pure. An aggregator item is attributed to the real publisher: the item's
``<source>`` when it has one (Google News), else the site of the final URL (GDELT's
ArtList links go straight to the publisher). Google News links are redirects through
news.google.com; older article ids carry the publisher URL inside them and are decoded
here without a request, newer ones are followed by the spider, and when no final URL
can be had the Google link is kept but still attributed to the ``<source>``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal
from urllib.parse import urlsplit

from spiders.parsing.feeds import FeedEntry

Aggregator = Literal["google_news", "gdelt"]

GOOGLE_NEWS_HOSTS = frozenset({"news.google.com"})
GDELT_HOSTS = frozenset({"api.gdeltproject.org"})
_URL_IN_BYTES = re.compile(rb"https?://[\x21-\x7e]+")


def aggregator_of(feed_url: str) -> Aggregator | None:
    """Which aggregator a feed URL belongs to, if any."""
    host = (urlsplit(feed_url).hostname or "").lower()
    if host in GOOGLE_NEWS_HOSTS:
        return "google_news"
    if host in GDELT_HOSTS:
        return "gdelt"
    return None


def is_google_news_link(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in GOOGLE_NEWS_HOSTS


def decode_google_news_link(url: str) -> str | None:
    """The publisher URL inside an old-style Google News article id (``CBMi...``).

    Returns None for ids that only Google can resolve (then the link is followed)."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in GOOGLE_NEWS_HOSTS:
        return None
    match = re.search(r"/articles/([A-Za-z0-9_-]+)", parts.path)
    if not match:
        return None
    token = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # Protobuf: field 4 (0x22) holds the URL, length-prefixed. Read the varint length
    # when it is there; otherwise take the printable run that starts with http.
    start = raw.find(b"http")
    if start < 0 or raw.startswith(b"\x08\x13\x22AU_yqL") or b"AU_yqL" in raw[:12]:
        return None
    length = _varint_before(raw, start)
    candidates = [raw[start : start + length]] if length else []
    if found := _URL_IN_BYTES.match(raw, start):
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            decoded = candidate.decode("ascii")
        except UnicodeDecodeError:
            continue
        if re.fullmatch(r"https?://[^\s/$.?#][^\s]*", decoded):
            return decoded
    return None


def _varint_before(raw: bytes, start: int) -> int:
    """The length prefix that ends at ``start`` (one or two varint bytes), or 0."""
    if start >= 1 and raw[start - 1] < 0x80 and start >= 2 and raw[start - 2] == 0x22:
        return raw[start - 1]
    if start >= 3 and raw[start - 3] == 0x22 and raw[start - 2] & 0x80:
        return (raw[start - 2] & 0x7F) | (raw[start - 1] << 7)
    return 0


def clean_aggregator_title(title: str, publisher: str | None) -> str:
    """Google News titles end with `` - Publisher``; drop that suffix."""
    if publisher:
        suffix = f" - {publisher}"
        if title.endswith(suffix) and len(title) > len(suffix):
            return title[: -len(suffix)].rstrip()
    return title


def entry_publisher(entry: FeedEntry, final_url: str, site_of_url: str) -> str:
    """The publisher to credit: the item's ``<source>`` name, else the final URL's site.

    ``site_of_url`` is ``site_of(final_url)``, passed in to keep this module pure."""
    if entry.publisher_name:
        return entry.publisher_name
    return site_of_url or (urlsplit(final_url).hostname or "")
