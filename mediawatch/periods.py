"""Points in time as users write them on the command line."""

from __future__ import annotations

from datetime import UTC, datetime

from mediawatch.config import parse_duration
from mediawatch.errors import ConfigError


def parse_moment(value: str, now: datetime) -> datetime:
    """``"90d"``/``"6h"`` (that long before ``now``) or an ISO date/time, as naive UTC."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"not a time: {value!r} (write a duration like 7d or a date like 2026-01-31)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
