"""What the spiders hand over, tidied for the store: canonical URLs, one-line fields without
control characters, the moment a story counts at, and the URL it was listed under."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

from clock.moments import plausible
from spiders.crawler.items import ArticleItem
from spiders.parsing.canonical import MAX_URL_LENGTH, canonical_url, site_of
from spiders.parsing.language import normalise_language

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 control characters but tab, newline and carriage return (PostgreSQL rejects NUL)."""


def seen_at(published_at: datetime | None, fetched_at: datetime, now: datetime) -> datetime:
    """When the story happened, for counting: ``published_at``, or ``fetched_at`` when that
    is missing, in the future or implausible (``clock.moments.plausible``)."""
    if published_at is None or not plausible(published_at, now):
        return fetched_at
    return published_at


def strip_controls(text: str) -> str:
    """``text`` without C0 control characters (NUL...), keeping tab, newline and CR."""
    return _CONTROLS.sub("", text)


def tidy_line(text: str) -> str:
    """One line: no control characters, runs of white space made one space."""
    return " ".join(strip_controls(text).split())


def tidy_text(text: str | None) -> str | None:
    """No control characters, no surrounding white space; None for nothing left."""
    return strip_controls(text or "").strip() or None


def normalise_item(item: ArticleItem) -> ArticleItem:
    """Tidy what the spiders hand over: canonical URL, one-line title, publisher, language;
    no control characters in the text fields."""
    url = _canonical_or_stripped(item.url)
    listed = _canonical_or_stripped(item.listed_url) if item.listed_url else None
    if len(url) > MAX_URL_LENGTH and listed and len(listed) <= MAX_URL_LENGTH:
        url = listed  # the archive's URL index holds no longer key
    publisher = tidy_line(item.publisher) or site_of(url) or item.source_name
    return replace(
        item,
        url=url,
        listed_url=listed or None,
        title=tidy_line(item.title),
        text=tidy_text(item.text),
        summary=tidy_text(item.summary),
        author=strip_controls(item.author or "").strip()[:1000] or None,
        publisher=publisher[:300],
        language=normalise_language(item.language),
    )


def _canonical_or_stripped(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url.strip()


def alias_of(item: ArticleItem) -> tuple[str, str] | None:
    """(listed URL, stored URL) when the page was reached under another URL than its own."""
    if item.listed_url and item.listed_url != item.url:
        return item.listed_url, item.url
    return None
