"""Each cluster's last 24 hours against usual, and its open episodes: the desk's overview and
``/api/v1/clusters`` read it here so they agree.

"Usual" is the mean stories per 24 hours over the ``USUAL_DAYS`` days before the last 24
hours (a story counts once however many outlets carried it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AlertEpisode, Mention

USUAL_DAYS = 14
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Activity:
    cluster: str
    last_day: int
    """Stories in the 24 hours before ``now``."""
    usual: float
    """Stories per 24 hours over the ``USUAL_DAYS`` days before that."""
    open_episodes: tuple[int, ...]
    """Ids of the cluster's open episodes, oldest first."""


def stories_between(
    session: Session, clusters: Sequence[str], since: datetime, until: datetime
) -> dict[str, int]:
    """Distinct stories per cluster seen in ``[since, until)`` (copies count once)."""
    story = func.coalesce(Mention.story_id, Mention.article_id)
    rows = session.execute(
        select(Mention.cluster, func.count(func.distinct(story)))
        .where(Mention.cluster.in_(list(clusters)), Mention.seen_at >= since)
        .where(Mention.seen_at < until)
        .group_by(Mention.cluster)
    )
    return {cluster: int(count) for cluster, count in rows}


def open_episodes(session: Session, clusters: Sequence[str]) -> dict[str, tuple[int, ...]]:
    rows = session.execute(
        select(AlertEpisode.cluster, AlertEpisode.id)
        .where(AlertEpisode.status == "open", AlertEpisode.cluster.in_(list(clusters)))
        .order_by(AlertEpisode.id)
    )
    found: dict[str, list[int]] = {}
    for cluster, episode_id in rows:
        found.setdefault(cluster, []).append(episode_id)
    return {cluster: tuple(ids) for cluster, ids in found.items()}


def recent_activity(session: Session, clusters: Sequence[str], now: datetime) -> list[Activity]:
    """One ``Activity`` per cluster, in the order given."""
    day_ago = now - DAY
    recent = stories_between(session, clusters, day_ago, now)
    before = stories_between(session, clusters, day_ago - USUAL_DAYS * DAY, day_ago)
    episodes = open_episodes(session, clusters)
    return [
        Activity(
            cluster=name,
            last_day=recent.get(name, 0),
            usual=before.get(name, 0) / USUAL_DAYS,
            open_episodes=episodes.get(name, ()),
        )
        for name in clusters
    ]
