"""The rows of ``sources status`` (and the desk's ``/api/v1/sources``): each source's health,
last poll, next due, failures and articles per day over the last week."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from clock.durations import format_duration
from storage.queries import articles_per_source, list_sources

SOURCE_COLUMNS = (
    "name",
    "kind",
    "healthy",
    "last_poll",
    "result",
    "http",
    "next_due",
    "interval",
    "failures",
    "articles_per_day",
    "error",
)
WEEK = timedelta(days=7)


def source_health_rows(session: Session, now: datetime) -> list[dict[str, Any]]:
    """One dict per stored source (also ``enabled``, which the columns leave out)."""
    per_source = articles_per_source(session, now - WEEK)
    return [
        {
            "name": source.name,
            "kind": source.kind,
            "enabled": source.enabled,
            "healthy": source.healthy,
            "last_poll": source.last_polled_at,
            "result": source.last_status or "never polled",
            "http": source.last_http_status,
            "next_due": source.next_poll_at,
            "interval": format_duration(timedelta(seconds=source.interval_seconds)),
            "failures": source.consecutive_failures,
            "articles_per_day": round(per_source.get(source.id, 0) / 7, 1),
            "error": (source.last_error or "")[:120],
        }
        for source in list_sources(session)
    ]
