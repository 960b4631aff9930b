"""Muted clusters (``alerts mute CLUSTER --for 24h``): their episodes queue no alert.

The one rule: whether an episode is alerted is decided when it opens. An episode that
opens while its cluster is muted is written (and listed, as muted) but never alerted,
not even its update, and not when the mute ends: alerting resumes with the next new
episode. Sending a backlog of stale spikes at unmute is what the user muted to avoid.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import ClusterMute

logger = logging.getLogger(__name__)


def mute(session: Session, cluster: str, duration: timedelta, now: datetime) -> datetime:
    """Mute ``cluster`` from ``now`` for ``duration`` (replacing any mute); the end."""
    until = now + duration
    row = session.get(ClusterMute, cluster)
    if row is None:
        session.add(ClusterMute(cluster=cluster, until=until, muted_at=now))
    else:
        row.until, row.muted_at = until, now
    logger.info("alerts for cluster %s muted until %s", cluster, until)
    return until


def unmute(session: Session, cluster: str) -> bool:
    """End ``cluster``'s mute now; False when it was not muted."""
    row = session.get(ClusterMute, cluster)
    session.execute(delete(ClusterMute).where(ClusterMute.cluster == cluster))
    if row is not None:
        logger.info("alerts for cluster %s unmuted", cluster)
    return row is not None


def muted_until(session: Session, now: datetime) -> dict[str, datetime]:
    """Clusters muted at ``now``, with the end of each mute (ended mutes are ignored)."""
    rows = session.execute(select(ClusterMute.cluster, ClusterMute.until))
    return {cluster: until for cluster, until in rows if until > now}
