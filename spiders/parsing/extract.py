"""The main text and metadata of an article page, with trafilatura.

``extract_article`` never raises for a bad page: undecodable, empty, hostile or
text-less HTML gives None, and the caller falls back to the feed's title and summary.

Bytes are decoded by ``spiders.parsing.decoding``, not by trafilatura, which would
otherwise also inflate a gzip-looking body (the fetcher's business, and its size cap).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
from htmldate import find_date
from trafilatura import bare_extraction
from trafilatura.settings import Document

from clock.moments import utc
from spiders.parsing.decoding import MAX_ELEMENTS, MAX_HTML_CHARS, decode_html
from spiders.parsing.language import choose_language

logger = logging.getLogger(__name__)

FAVOR_PRECISION = False
FAVOR_RECALL = True
"""trafilatura's balance, measured over the 258 fundus pages (bench/bench_extract.py):
default 0.950 mean token F1 at ~30 pages/s; favor_recall 0.946 at ~39 pages/s;
fast (no fallback extractors) 0.941 at ~38 pages/s. Recall also suits matching."""

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
DATE_PARAMS = {
    "outputformat": DATE_FORMAT,
    "extensive_search": False,
    "original_date": True,
}
"""The page's date from its metadata and markup only (meta tags, JSON-LD, ``<time>``, the
URL): what the publisher states. A date found in the running text is a guess (a caption's
"Nov. 6, 2019"), searched for separately and only when nothing better exists."""

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_PARSER = lxml.html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)


@dataclass(frozen=True)
class Extracted:
    """What the page says about itself. Times are naive UTC."""

    title: str
    text: str
    published_at: datetime | None
    """From the page's metadata."""
    author: str | None
    language: str | None
    canonical_url: str | None
    """The page's ``rel=canonical`` resolved against its URL, not yet vetted
    (``spiders.parsing.canonical.prefer_canonical`` decides whether to trust it)."""
    description: str | None
    text_date: datetime | None = None
    """A date found in the page's text, searched for only when asked and the metadata has
    none (``spiders.crawler.news.published_at`` ranks it last)."""


def extract_article(
    html: bytes | str,
    url: str,
    *,
    fallback_language: str | None = None,
    content_type: str | None = None,
    date_from_text: bool = False,
) -> Extracted | None:
    """Extract ``html`` fetched from ``url``; None when no main text can be had.

    ``fallback_language`` (e.g. the feed's language) is used when the page neither
    declares a language nor has enough text to detect one; ``content_type`` is the
    response's Content-Type header, whose charset wins over the page's own.
    ``date_from_text`` searches the text for a date when the metadata has none."""
    try:
        return _extract(html, url, fallback_language, content_type, date_from_text)
    except Exception as exc:  # hostile pages must not stop a crawl
        logger.warning("extraction failed for %s: %s: %s", url, type(exc).__name__, exc)
        return None


def _extract(
    html: bytes | str,
    url: str,
    fallback_language: str | None,
    content_type: str | None,
    date_from_text: bool,
) -> Extracted | None:
    text = decode_html(html, content_type) if isinstance(html, bytes) else html
    text = _XML_DECLARATION.sub("", text[:MAX_HTML_CHARS], count=1).replace("\x00", "")
    if "<" not in text[:4096]:
        return None  # not HTML at all (binary junk, a compressed body)
    tree = lxml.html.document_fromstring(text, parser=_PARSER)
    if sum(1 for _ in tree.iter()) > MAX_ELEMENTS:
        logger.warning("refusing %s: more than %d elements", url, MAX_ELEMENTS)
        return None
    canonical = _rel_canonical(tree, url)
    declared = _declared_language(tree)
    document = bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=FAVOR_PRECISION,
        favor_recall=FAVOR_RECALL,
        date_extraction_params=DATE_PARAMS,
    )
    if not isinstance(document, Document):
        return None
    body = (document.text or "").strip()
    if not body:
        return None
    title = " ".join((document.title or "").split())
    published = parse_iso_date(document.date)
    text_date = None
    if published is None and date_from_text:
        text_date = parse_iso_date(
            find_date(text, extensive_search=True, original_date=True, outputformat=DATE_FORMAT)
        )
    return Extracted(
        title=title,
        text=body,
        published_at=published,
        text_date=text_date,
        author=(document.author or "").strip() or None,
        language=choose_language(declared, f"{title}\n{body}", fallback_language),
        canonical_url=canonical,
        description=(document.description or "").strip() or None,
    )


def parse_iso_date(value: str | None) -> datetime | None:
    """An ISO 8601 date, as trafilatura and htmldate write them, to naive UTC (a value
    without a zone is taken as UTC); None when unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    try:
        return utc(moment)
    except OverflowError:
        return None


def _rel_canonical(tree: Any, url: str) -> str | None:
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rel and href:
            try:
                return urljoin(url, href)
            except ValueError:  # a broken IPv6 host: no usable canonical
                return None
    return None


def _declared_language(tree: Any) -> str | None:
    root = tree.getroottree().getroot()
    for value in (root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")):
        if value and value.strip():
            return str(value)
    for meta in tree.iter("meta"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            content = (meta.get("content") or "").split(",")[0].strip()
            if content:
                return content
    return None
