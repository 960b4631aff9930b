"""Time as the database stores it (naive UTC), and as servers write it (``Retry-After``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import overload

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


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A stored naive UTC datetime back to an aware one (for output, or another zone)."""
    return None if moment is None else moment.replace(tzinfo=UTC)


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the Unix epoch of a naive UTC datetime (an aware one keeps its zone)."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def plausible(moment: datetime, now: datetime) -> bool:
    """Whether a publication date (naive UTC) can be true: not before the web's news feeds,
    not after now (give or take a clock's error)."""
    return EARLIEST_PLAUSIBLE <= moment <= now + FUTURE_SLACK


LONGEST_RETRY_AFTER = 30 * 86400.0
"""A longer ``Retry-After`` is read as this many seconds (callers cap it further): a
header is data, and ``1e20`` must not overflow a date."""


def retry_after_seconds(value: str | bytes | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number (RFC 9110 says whole
    seconds; ``1e20`` or ``-5`` are read as the numbers they are) or an HTTP date.

    ``now`` is naive UTC. None when absent or unreadable (``nan``, junk); else a finite
    number in ``[0, LONGEST_RETRY_AFTER]``, whatever the server sent."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        try:
            seconds = (utc(moment) - now).total_seconds()
        except OverflowError:  # year 1 east of UTC or 9999 west of it: a date at either end
            seconds = LONGEST_RETRY_AFTER if moment.year > now.year else 0.0
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), LONGEST_RETRY_AFTER)
