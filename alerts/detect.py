"""The detect job: counts -> spikes -> episodes -> alerts in the outbox, one transaction.

``run_detection`` is what the service runs after each crawl and hourly. For every
configured cluster it counts stories per bucket over the trailing ``history`` plus four
weeks (so the day-of-week profile and the flags of the earlier buckets are known), judges
them (``alerts.spikes``), replays the recent complete buckets (``lookback``) and, when
``early`` is on, the current partial one through the cluster's episode
(``alerts.episodes``), and writes what changed: ``AlertEpisode`` rows, and an ``Alert``
enqueued in the same transaction for each instant channel the cluster routes to, unless
the cluster is muted (``alerts.mutes``) (the caller commits).

Idempotent: the episode state lives in the database and replaying the same buckets from
it gives no new transition, and the outbox ignores an idempotency key it already has.
Two runs at once (two service processes, or the service and ``mediawatch detect``) do
not both open an episode: on PostgreSQL a run first takes a transaction-level advisory
lock, so the second waits for the first to commit and then sees its episode; on every
database a unique index on ``(cluster, onset_bucket)`` rejects a second episode for the
same spike (on SQLite, where writers are serialised anyway, the losing run fails and
writes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.channels import routed_names
from alerts.counts import backlog_stories, bucket_details
from alerts.episodes import EpisodeState, Transition, advance
from alerts.message import Alert, Headline
from alerts.mutes import muted_until
from alerts.outbox import enqueue
from alerts.verdicts import EXTRA_HISTORY, EpisodeEvent, judge, policy_from_config
from alerts.wording import report_command
from config.models import Config
from storage.locks import DETECT_LOCK, lock_for_transaction
from storage.models import AlertEpisode

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeChange(EpisodeEvent):
    """One transition written to the database."""

    episode_id: int
    queued: int
    """Outbox rows written for it (0 for a close, or when they existed already)."""


def run_detection(session: Session, config: Config, now: datetime) -> list[EpisodeChange]:
    """Judge every configured cluster up to ``now``; write episodes and queue alerts.

    On PostgreSQL this first takes the detect advisory lock for the rest of the caller's
    transaction: a concurrent run waits here until this one commits or rolls back."""
    detection = config.detection
    if not config.clusters:
        return []
    lock_for_transaction(session, DETECT_LOCK)
    since = now - detection.history - EXTRA_HISTORY
    judged = judge(session, config, since, now)
    grid = judged.grid
    complete = judged.complete(now)
    first = grid.position(now - detection.lookback)
    clusters = list(judged.rows)
    backlog = backlog_stories(session, grid, grid.bucket_start(max(first, 0)), clusters)
    policy = policy_from_config(detection)
    # Routing and mutes: which channels each cluster's alerts go to now (see alerts.mutes).
    routes = {item.name: routed_names(config.alerts, item) for item in config.clusters}
    muted = muted_until(session, now)
    changes: list[EpisodeChange] = []
    for cluster in clusters:
        per_bucket = backlog.get(cluster, {})
        verdicts = judged.verdicts(cluster, first, complete, per_bucket)
        partial = None
        if detection.early and complete < grid.length:
            partial = judged.verdicts(cluster, complete, complete + 1, per_bucket)[0]
        row = _latest_episode(session, cluster)
        state = _state_of(row)
        final, transitions = advance(state, verdicts, policy, partial)
        targets, is_muted = routes[cluster], cluster in muted
        changes += _apply(
            session, cluster, row, final, transitions, targets, is_muted, grid.width, now
        )
    if changes:
        logger.info("detect: %d episode change(s): %s", len(changes), _summary(changes))
    return changes


def _latest_episode(session: Session, cluster: str) -> AlertEpisode | None:
    return session.scalars(
        select(AlertEpisode)
        .where(AlertEpisode.cluster == cluster)
        .order_by(AlertEpisode.onset_bucket.desc(), AlertEpisode.id.desc())
        .limit(1)
    ).first()


def _state_of(row: AlertEpisode | None) -> EpisodeState | None:
    if row is None:
        return None
    return EpisodeState(
        status="open" if row.status == "open" else "closed",
        onset_bucket=row.onset_bucket,
        last_bucket=row.last_bucket,
        opening_count=row.observed,
        peak_count=row.peak_count,
        updates=row.updates,
        quiet_buckets=row.quiet_buckets,
        closed_at=row.closed_at,
    )


def _apply(
    session: Session,
    cluster: str,
    row: AlertEpisode | None,
    final: EpisodeState | None,
    transitions: Sequence[Transition],
    channels: Sequence[str],
    muted: bool,
    width: timedelta,
    now: datetime,
) -> list[EpisodeChange]:
    changes = []
    for transition in transitions:
        verdict, state = transition.verdict, transition.state
        queued = 0
        if transition.kind == "open":
            row = AlertEpisode(
                cluster=cluster,
                status="open",
                onset_bucket=state.onset_bucket,
                opened_at=now,
                last_bucket=state.last_bucket,
                observed=round(verdict.count),
                expected=verdict.expected,
                tail_probability=verdict.tail_probability,
                peak_count=round(verdict.count),
                sources=verdict.sources,
                updates=0,
                quiet_buckets=0,
                muted=muted,
            )
            session.add(row)
            session.flush()
        assert row is not None  # an update or close always follows an open episode
        _copy_state(row, state)
        if transition.kind == "update":
            row.updated_at = now
        # An episode opened while muted is never alerted; one open when a mute starts
        # sends no update while it lasts.
        if transition.kind in ("open", "update") and not (muted or row.muted):
            alert = _alert(session, transition, cluster, row.id, width)
            queued = len(enqueue(session, alert, channels, now))
        event = EpisodeEvent.of(cluster, transition)
        changes.append(EpisodeChange(**asdict(event), episode_id=row.id, queued=queued))
    if row is not None and final is not None and row.status == "open":
        _copy_state(row, final)
    session.flush()
    return changes


def _copy_state(row: AlertEpisode, state: EpisodeState) -> None:
    row.status = state.status
    row.observed = round(state.opening_count)  # the service counts whole stories
    row.last_bucket = state.last_bucket
    row.peak_count = round(state.peak_count)
    row.updates = state.updates
    row.quiet_buckets = state.quiet_buckets
    row.closed_at = state.closed_at


def _alert(
    session: Session, transition: Transition, cluster: str, episode_id: int, width: timedelta
) -> Alert:
    verdict = transition.verdict
    return spike_alert(
        session,
        "open" if transition.kind == "open" else "update",
        cluster,
        verdict.start,
        width,
        observed=round(verdict.count),
        expected=verdict.expected,
        tail_probability=verdict.tail_probability,
        sources=verdict.sources,
        episode_id=episode_id,
    )


def spike_alert(
    session: Session,
    kind: Literal["open", "update"],
    cluster: str,
    start: datetime,
    width: timedelta,
    *,
    observed: int,
    expected: float,
    tail_probability: float,
    sources: int,
    episode_id: int,
) -> Alert:
    """The alert for a spiking bucket of ``cluster``, with its languages and headlines
    (one per story): what an episode's open or update says, alone or in a digest."""
    languages, stories = bucket_details(session, cluster, start, start + width)
    return Alert(
        kind=kind,
        cluster=cluster,
        bucket_start=start,
        bucket_end=start + width,
        observed=observed,
        expected=round(expected, 2),
        tail_probability=tail_probability,
        sources=sources,
        languages=tuple(languages),
        headlines=tuple(
            Headline(
                title=story.title,
                url=story.url,
                publisher=story.publisher,
                published_at=story.published_at,
            )
            for story in stories
        ),
        episode_id=episode_id,
        trend_command=report_command(cluster),
    )


def _summary(changes: Sequence[EpisodeChange]) -> str:
    return ", ".join(
        f"{c.kind} {c.cluster!r} at {c.bucket_start:%Y-%m-%d %H:%M} "
        f"({c.observed} stories vs {c.expected:.1f} expected, p={c.tail_probability:.1e})"
        for c in changes
    )
