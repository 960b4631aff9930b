"""The GDELT DOC 2.0 article list, pure: date windows to ask for, the query a cluster's terms
make, the request's parameters, and the ``mode=artlist&format=json`` answer read.

The one rule that keeps coverage: GDELT returns at most ``MAX_RECORDS`` articles per request,
so a window that comes back full is split in halves (``Window.halves``) and asked again,
down to ``SMALLEST_WINDOW``; only a window that came back short is complete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_RECORDS = 250
"""GDELT's ceiling on ``maxrecords``."""

SMALLEST_WINDOW = timedelta(minutes=15)
"""GDELT indexes in 15-minute steps: a full window this short is taken as it is."""

REACH = timedelta(days=90)
"""How far back the DOC 2.0 API searches (its "three months")."""

MAX_QUERY_CHARS = 250
"""A conservative bound on the query's length; terms beyond it are left out."""

MIN_TERM_CHARS = 3
"""GDELT refuses a keyword shorter than this ("too short")."""

_STAMP = "%Y%m%d%H%M%S"
_SEENDATE = re.compile(r"^(\d{8})T(\d{6})Z$")


@dataclass(frozen=True, order=True)
class Window:
    """``[start, end)`` in naive UTC."""

    start: datetime
    end: datetime

    def halves(self) -> tuple[Window, Window]:
        middle = self.start + (self.end - self.start) / 2
        middle = middle.replace(microsecond=0)
        return Window(self.start, middle), Window(middle, self.end)

    @property
    def splittable(self) -> bool:
        return self.end - self.start > SMALLEST_WINDOW

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class ListedArticle:
    url: str
    title: str
    seen: datetime | None
    """GDELT's ``seendate`` (naive UTC): when it first saw the article."""
    domain: str = ""
    language: str | None = None


@dataclass(frozen=True)
class ArtList:
    """One answer read: its articles, what was odd in its entries, or why it is unusable."""

    articles: tuple[ListedArticle, ...] = ()
    problems: tuple[str, ...] = ()
    error: str | None = None


def windows(since: datetime, until: datetime, size: timedelta) -> list[Window]:
    """``[since, until)`` cut into windows of ``size`` (the last one shorter), oldest first."""
    out: list[Window] = []
    start = since.replace(microsecond=0)
    while start < until:
        end = min(start + size, until)
        out.append(Window(start, end))
        start = end
    return out


def cluster_query(terms: Iterable[str], domain: str | None = None) -> str | None:
    """The terms as quoted phrases ORed (``("a b" OR "c")``), as many as fit
    ``MAX_QUERY_CHARS``; None when none can be expressed (too short, or only quotes)."""
    phrases: list[str] = []
    suffix = f" domain:{domain}" if domain else ""
    for term in terms:
        text = " ".join(term.replace('"', " ").split())
        if len(text) < MIN_TERM_CHARS:
            continue
        phrase = f'"{text}"'
        if phrase in phrases:
            continue
        if len(_joined([*phrases, phrase]) + suffix) > MAX_QUERY_CHARS:
            break
        phrases.append(phrase)
    if not phrases:
        return None
    return _joined(phrases) + suffix


def _joined(phrases: Sequence[str]) -> str:
    # GDELT requires ORed terms inside parentheses; a lone phrase must not have them.
    return phrases[0] if len(phrases) == 1 else "(" + " OR ".join(phrases) + ")"


def artlist_params(query: str, window: Window) -> dict[str, str]:
    return {
        "query": query,
        "mode": "artlist",
        "format": "json",
        "maxrecords": str(MAX_RECORDS),
        "sort": "dateasc",
        "startdatetime": window.start.strftime(_STAMP),
        "enddatetime": window.end.strftime(_STAMP),
    }


def parse_seendate(value: object) -> datetime | None:
    """``20191120T154500Z`` as naive UTC; None for anything else."""
    if not isinstance(value, str):
        return None
    match = _SEENDATE.match(value.strip())
    if not match:
        return None
    try:
        return datetime.strptime(match[1] + match[2], _STAMP)
    except ValueError:
        return None


def parse_artlist(body: bytes) -> ArtList:
    """GDELT's answer read. GDELT reports a bad query as a line of plain text (status 200),
    and no match as ``{}``; an entry without a usable ``url`` is skipped, one without a
    readable ``seendate`` kept without it (the page may date itself); both are noted."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ArtList()
    try:
        document = json.loads(text)
    except ValueError:
        return ArtList(error=f"not JSON: {_first_line(text)}")
    if not isinstance(document, dict):
        return ArtList(error=f"not a JSON object but {type(document).__name__}")
    items = document.get("articles", [])
    if not isinstance(items, list):
        return ArtList(error="'articles' is not a list")
    articles: list[ListedArticle] = []
    problems: list[str] = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url.strip()):
            problems.append(f"skipped an entry without a usable url: {str(item)[:80]!r}")
            continue
        seen = parse_seendate(item.get("seendate"))
        if seen is None:
            problems.append(f"{url.strip()[:120]}: unreadable seendate {item.get('seendate')!r}")
        title = item.get("title")
        language = item.get("language")
        domain = item.get("domain")
        articles.append(
            ListedArticle(
                url=url.strip(),
                title=title.strip() if isinstance(title, str) else "",
                seen=seen,
                domain=domain if isinstance(domain, str) else "",
                language=language if isinstance(language, str) and language else None,
            )
        )
    return ArtList(tuple(articles), tuple(problems))


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line[:120]
