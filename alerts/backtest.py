"""What the detector would have fired on an archive period, replayed without writing anything."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from alerts.episodes import advance
from alerts.verdicts import EXTRA_HISTORY, EpisodeEvent, judge, policy_from_config
from config.models import Config


def backtest(
    session: Session, config: Config, since: datetime, now: datetime
) -> list[EpisodeEvent]:
    """The opens and updates from ``since`` to ``now`` (complete buckets), oldest first.

    Episodes are replayed from scratch over the period, as if detect had run after every
    bucket (backlog is not reconstructed: it needs the poll history of each moment)."""
    if not config.clusters:
        return []
    detection = config.detection
    judged = judge(session, config, since - detection.history - EXTRA_HISTORY, now)
    first = judged.grid.position(since)
    complete = judged.complete(now)
    policy = policy_from_config(detection)
    events = []
    for cluster in judged.rows:
        _, transitions = advance(None, judged.verdicts(cluster, first, complete, {}), policy)
        events += [EpisodeEvent.of(cluster, t) for t in transitions if t.kind != "close"]
    events.sort(key=lambda e: (e.bucket_start, e.cluster))
    return events
