"""Time as the database stores it: naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST_PLAUSIBLE = datetime(1995, 1, 1)
"""No news feed or sitemap existed before this: an earlier date is junk (1970, year 1)."""
FUTURE_SLACK = timedelta(hours=1)
"""A publication date this far ahead of now is a clock or time-zone error, not news."""


def utc(moment: datetime) -> datetime:
    """A naive UTC datetime for storage (aware values are converted, naive kept)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def utcnow() -> datetime:
    """Now, as the database stores it. Only the edges call this; the rest take ``now``."""
    return datetime.now(UTC).replace(tzinfo=None)


def aware(moment: datetime | None) -> datetime | None:
    """A stored naive UTC datetime back to an aware one (for output)."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def plausible(moment: datetime, now: datetime) -> bool:
    """Whether a publication date (naive UTC) can be true: not before the web's news feeds,
    not after now (give or take a clock's error)."""
    return EARLIEST_PLAUSIBLE <= moment <= now + FUTURE_SLACK
