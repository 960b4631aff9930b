"""Points in time as users write them on the command line (``--since``, ``--until``).

Every command parses them here, so one rule holds everywhere: a moment is naive UTC
inside ``[EARLIEST, LATEST]``. A value outside (``1000000d``, ``0001-01-01T00:00+01:00``)
is clamped rather than refused: no archive holds anything before the epoch, and the
range leaves room for the arithmetic callers do (a history window before ``--since``,
a bucket after ``--until``) without overflowing ``datetime``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from clock.durations import format_duration, parse_duration
from clock.moments import utc
from errors import ConfigError

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9999, 1, 1)
MAX_BUCKETS = 100_000
"""Most buckets one report or backtest covers (hourly: 11 years; daily: 273 years)."""


def parse_moment(value: str, now: datetime) -> datetime:
    """``"90d"``/``"6h"`` (that long before ``now``) or an ISO date/time, as naive UTC
    clamped to ``[EARLIEST, LATEST]``; ``ConfigError`` (one line) for anything else."""
    try:
        back = parse_duration(value)
    except OverflowError:  # more days than timedelta holds: long before the epoch
        return EARLIEST
    except ValueError:
        pass
    else:
        return EARLIEST if back > now - EARLIEST else clamp(now - back)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"not a time: {value!r} (write a duration like 7d or a date like 2026-01-31)"
        ) from None
    try:
        return clamp(utc(moment))
    except OverflowError:  # a zone pushed year 1 or 9999 past datetime's range
        return EARLIEST if (moment.utcoffset() or timedelta(0)) > timedelta(0) else LATEST


def clamp(moment: datetime) -> datetime:
    return min(max(moment, EARLIEST), LATEST)


def check_bucket_count(start: datetime, end: datetime, width: timedelta, hint: str) -> None:
    """Refuse a period of more than ``MAX_BUCKETS`` buckets of ``width`` (one line, with
    ``hint`` saying what to change) before anything allocates them."""
    count = -((start - end) // width)
    if count > MAX_BUCKETS:
        raise ConfigError(
            f"{start:%Y-%m-%d} to {end:%Y-%m-%d} is {count:,} buckets of "
            f"{format_duration(width)}, more than {MAX_BUCKETS:,}: {hint}"
        )
