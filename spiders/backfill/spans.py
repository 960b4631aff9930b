"""Walking a source's own history, pure: the span a backfill covers, which posts of a
Telegram page and which entries of a sitemap fall in what is still to do, and where the
walk goes next.

The one rule that keeps the detector honest: a walk stores only what is dated, and dated
before ``span.end`` (the hour before ``now - [detection] lookback``, as GDELT's plan). An
undated post or sitemap entry would count at the moment it was fetched, which is "now",
and could open an episode; the live crawl takes what is that recent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from clock.moments import EARLIEST_PLAUSIBLE, plausible
from spiders.backfill.gdelt import Window
from spiders.parsing.sitemaps import SitemapEntry
from spiders.parsing.telegram import ChannelPost

TELEGRAM = "@telegram"
SITEMAP = "@sitemap"
"""The ledger's ``cluster`` for a source's own walk (its ``scope`` is the source's name)."""

_DATED_NAME = re.compile(
    r"(?<!\d)((?:19|20)\d\d)[-_/.]?(0[1-9]|1[0-2])(?:[-_/.]?(0[1-9]|[12]\d|3[01]))?(?!\d)"
)


def source_span(now: datetime, since: timedelta, recent: timedelta) -> Window:
    """From midnight ``since`` before the hour of ``now - recent``, to that hour (the same
    within an hour, so a rerun has nothing left to do)."""
    until = (now - recent).replace(minute=0, second=0, microsecond=0)
    start = (until - since).replace(hour=0)
    return Window(max(start, EARLIEST_PLAUSIBLE), until)


def within(moment: datetime, gaps: Iterable[Window]) -> bool:
    return any(gap.start <= moment < gap.end for gap in gaps)


def overlaps(span: Window, gaps: Iterable[Window]) -> bool:
    return any(gap.start < span.end and span.start < gap.end for gap in gaps)


# ---- Telegram ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelStep:
    """What one page of a channel's history gives."""

    keep: tuple[ChannelPost, ...]
    """Posts dated within what is still to do."""
    skipped: int
    """Posts left: undated, too recent, older than the span, or done already."""
    lower: datetime
    """The walk has seen everything from here up to the page's ``upper``."""
    covered: Window | None
    """What to record as finished once ``keep`` is stored."""
    ended: bool
    """The channel's first post is on this page."""


def channel_step(
    posts: Sequence[ChannelPost],
    before: int | None,
    upper: datetime,
    span: Window,
    gaps: Sequence[Window],
    now: datetime,
) -> ChannelStep:
    """Read one page (``before``: its "load more" id, None at the channel's start) whose
    posts are all older than ``upper``. When the channel ends within the span, nothing
    older exists: the finished span then reaches back to ``EARLIEST_PLAUSIBLE``."""
    dated = [p for p in posts if p.published is not None and plausible(p.published, now)]
    keep = tuple(p for p in dated if p.published is not None and within(p.published, gaps))
    oldest = min((p.published for p in dated if p.published is not None), default=None)
    ended = before is None
    lower = min(oldest, upper) if oldest is not None else upper
    if ended and (oldest is None or oldest >= span.start):
        lower = EARLIEST_PLAUSIBLE
    start = max(lower, span.start) if lower != EARLIEST_PLAUSIBLE else lower
    covered = Window(start, upper) if start < upper else None
    return ChannelStep(keep, len(posts) - len(keep), lower, covered, ended)


@dataclass(frozen=True)
class Move:
    """Where a walk goes after a page: nowhere (``stop``), on to the next older page, or
    (``jump_to``) past a finished stretch to the newest post at or after that moment."""

    stop: bool = False
    jump_to: datetime | None = None


def next_move(lower: datetime, ended: bool, gaps: Sequence[Window]) -> Move:
    """After a page seen down to ``lower``: stop when the channel ended or no gap is older;
    jump when a finished stretch lies between ``lower`` and the next gap."""
    below = [gap for gap in gaps if gap.start < lower]
    if ended or not below:
        return Move(stop=True)
    top = max(min(gap.end, lower) for gap in below)
    return Move(jump_to=top) if top < lower else Move()


def first_move(span: Window, gaps: Sequence[Window]) -> Move:
    """The first page: the newest (a gap reaches the span's end), or a jump to the newest
    gap's end, or nothing at all."""
    if not gaps:
        return Move(stop=True)
    top = max(gap.end for gap in gaps)
    return Move() if top >= span.end else Move(jump_to=top)


# ---- sitemaps ------------------------------------------------------------------------


def child_period(url: str) -> Window | None:
    """The month or day a child sitemap's name says it holds (``sitemap-2026-11.xml``,
    ``/2026/11/29/sitemap.xml``, ``?yyyy=2026&mm=11``); None when it names none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    if "yyyy" in query and "mm" in query:
        found = (query["yyyy"], query["mm"], query.get("dd"))
    else:
        match = _DATED_NAME.search(parts.path)
        if match is None:
            return None
        found = (match[1], match[2], match[3])
    try:
        year, month = int(found[0]), int(found[1])
        if found[2]:
            day = datetime(year, month, int(found[2]))
            return Window(day, day + timedelta(days=1))
        start = datetime(year, month, 1)
    except (ValueError, OverflowError):
        return None
    end = datetime(year + 1, 1, 1) if month == 12 else datetime(year, month + 1, 1)
    return Window(start, end)


def wanted_child(entry: SitemapEntry, gaps: Sequence[Window]) -> bool:
    """Whether a child sitemap may list pages still to do: its name's period meets a gap,
    and it changed after the oldest gap began (a ``lastmod`` older holds nothing newer)."""
    if not gaps:
        return False
    period = child_period(entry.loc)
    if period is not None and not overlaps(period, gaps):
        return False
    return entry.lastmod is None or entry.lastmod >= min(gap.start for gap in gaps)


def wanted_entries(
    entries: Iterable[SitemapEntry], gaps: Sequence[Window]
) -> tuple[list[SitemapEntry], int]:
    """The entries dated (news date, else ``lastmod``) within a gap, and how many were not."""
    kept: list[SitemapEntry] = []
    left = 0
    for entry in entries:
        when = entry.published
        if when is not None and within(when, gaps):
            kept.append(entry)
        else:
            left += 1
    return kept, left
