"""A source's kind in words, and the channel a Telegram source reads: what ``/sources``
and ``/api/v1/sources`` add to the rows of ``sources status``."""

from __future__ import annotations

import re

KIND_WORDS = {
    "feed": "RSS/Atom feed",
    "sitemap": "sitemap",
    "telegram": "Telegram channel",
    "html": "HTML listing page",
}
_TELEGRAM_PREVIEW = re.compile(r"^(https?://[^/\s?#]+)/s/([A-Za-z0-9_]{1,64})/?$")


def kind_words(kind: str) -> str:
    """What a source's ``kind`` reads, in words (an unknown kind as it is stored)."""
    return KIND_WORDS.get(kind, kind)


def telegram_channel(kind: str, url: str) -> tuple[str, str] | None:
    """``("@NAME", channel URL)`` of a telegram source, whose ``url`` is the channel's web
    preview (``https://t.me/s/NAME``, as config.toml checks); None for any other source."""
    found = _TELEGRAM_PREVIEW.match(url.strip()) if kind == "telegram" else None
    if found is None:
        return None
    site, name = found.groups()
    return f"@{name}", f"{site}/{name}"
