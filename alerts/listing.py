"""The rows of ``alerts list`` (and the desk's ``/api/v1/episodes``): each episode with its
delivery, mute and mark, one dict per episode, keys in ``EPISODE_COLUMNS``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.history import last_errors, recent_episodes
from alerts.mutes import muted_until

EPISODE_COLUMNS = (
    "id",
    "cluster",
    "status",
    "opened_at",
    "closed_at",
    "observed",
    "expected",
    "peak",
    "sources",
    "delivery",
    "errors",
    "muted",
    "muted_until",
    "mark",
)


def episode_rows(
    session: Session, since: datetime, now: datetime
) -> tuple[list[dict[str, Any]], dict[str, datetime]]:
    """Episodes opened since ``since``, newest first, and the mutes in force at ``now``
    (cluster -> until). Times stay ``datetime``: each output formats them its way."""
    mutes = muted_until(session, now)
    rows = [
        {
            "id": item.episode.id,
            "cluster": item.episode.cluster,
            "status": item.episode.status,
            "opened_at": item.episode.opened_at,
            "closed_at": item.episode.closed_at,
            "observed": item.episode.observed,
            "expected": round(item.episode.expected, 2),
            "peak": item.episode.peak_count,
            "sources": item.episode.sources,
            "delivery": "muted: not alerted" if item.episode.muted else item.delivery,
            "errors": last_errors(item.messages)[:200],
            "muted": item.episode.muted,
            "muted_until": mutes.get(item.episode.cluster),
            "mark": (item.episode.feedback or "").replace("_", "-"),
        }
        for item in recent_episodes(session, since)
    ]
    return rows, mutes
