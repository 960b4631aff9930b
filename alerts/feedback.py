"""What users said about their alerts (``alerts mark``), and the precision it gives.

``precision`` is pure: of the marked episodes that a backtest would have opened, the
share marked useful. An episode counts as opened by the backtest when the backtest
opened its cluster at a bucket within the episode's span (onset to last bucket, one
bucket of slack before the onset): a replay from scratch may open a bucket earlier or
later than the live run did (late stories, an early partial bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AlertEpisode

Feedback = Literal["useful", "false_alarm"]


@dataclass(frozen=True)
class MarkedEpisode:
    cluster: str
    onset_bucket: datetime
    last_bucket: datetime
    feedback: Feedback


@dataclass(frozen=True)
class Precision:
    cluster: str
    """A cluster's name, or ``all``."""
    useful: int
    false_alarms: int

    @property
    def marked(self) -> int:
        return self.useful + self.false_alarms

    @property
    def share(self) -> float | None:
        return self.useful / self.marked if self.marked else None


def mark_episode(session: Session, episode_id: int, feedback: Feedback, now: datetime) -> bool:
    """Store the user's verdict on an episode (replacing any earlier one); False when
    there is no such episode."""
    row = session.get(AlertEpisode, episode_id)
    if row is None:
        return False
    row.feedback, row.feedback_at = feedback, now
    return True


def marked_episodes(session: Session) -> list[MarkedEpisode]:
    rows = session.execute(
        select(
            AlertEpisode.cluster,
            AlertEpisode.onset_bucket,
            AlertEpisode.last_bucket,
            AlertEpisode.feedback,
        ).where(AlertEpisode.feedback.in_(["useful", "false_alarm"]))
    )
    return [
        MarkedEpisode(cluster, onset, last, "useful" if feedback == "useful" else "false_alarm")
        for cluster, onset, last, feedback in rows
    ]


def precision(
    opened: Sequence[tuple[str, datetime]], marks: Sequence[MarkedEpisode], bucket: timedelta
) -> list[Precision]:
    """Per cluster (sorted) then ``all``: the marked episodes the backtest opened
    (``opened``: cluster and bucket of each open), useful against false alarms. Clusters
    with no such episode are left out; ``all`` is always there (zero when nothing)."""
    by_cluster: dict[str, list[datetime]] = {}
    for cluster, bucket_start in opened:
        by_cluster.setdefault(cluster, []).append(bucket_start)
    counts: dict[str, list[int]] = {}
    for mark in marks:
        starts = by_cluster.get(mark.cluster, [])
        if not any(mark.onset_bucket - bucket <= s <= mark.last_bucket for s in starts):
            continue
        tally = counts.setdefault(mark.cluster, [0, 0])
        tally[0 if mark.feedback == "useful" else 1] += 1
    rows = [Precision(cluster, u, f) for cluster, (u, f) in sorted(counts.items())]
    total = Precision("all", sum(r.useful for r in rows), sum(r.false_alarms for r in rows))
    return [*rows, total]
