"""An open alert episode as the detector writes it, and its alert: the one builder the
outbox, delivery and CLI tests share."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts.message import Alert
from storage.models import AlertEpisode


def open_episode(session: Session, cluster: str, now: datetime) -> AlertEpisode:
    """A spike of 23 stories (2.1 expected, 9 sources) in the hour before ``now``, flushed."""
    episode = AlertEpisode(
        cluster=cluster,
        status="open",
        onset_bucket=now - timedelta(hours=1),
        opened_at=now,
        last_bucket=now - timedelta(hours=1),
        observed=23,
        expected=2.1,
        tail_probability=2e-5,
        peak_count=23,
        sources=9,
    )
    session.add(episode)
    session.flush()
    return episode


def episode_alert(episode: AlertEpisode) -> Alert:
    """The alert that opens ``episode``."""
    return Alert(
        kind="open",
        cluster=episode.cluster,
        bucket_start=episode.onset_bucket,
        bucket_end=episode.onset_bucket + timedelta(hours=1),
        observed=episode.observed,
        expected=episode.expected,
        tail_probability=episode.tail_probability,
        sources=episode.sources,
        episode_id=episode.id,
    )
