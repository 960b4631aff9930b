"""Time as the database stores it: naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime


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
