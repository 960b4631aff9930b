"""The daily digest: one message per digest channel and local day, at the channel's ``at``.

``due_digest`` is the pure core: given ``now``, the channel's time of day, the
``[alerts] timezone`` and the local date of the channel's last digest, is one due, for
which local date, and which window of time does it cover. ``queue_due_digests`` is the
thin shell the deliver job runs before each pass: it writes one outbox row per due
digest, keyed ``digest:<channel>:<date>``, so the outbox's exactly-once machinery
(insert-if-absent, claims, leases) covers digests as it covers alerts: two passes, two
processes or a restart never queue or send one twice.

The one non-obvious rule: an episode belongs to the digest whose window holds the moment
it was opened (or updated), and the windows tile (each starts where the previous
digest's ended). A detection run that began before the digest time may commit its
episode after the digest was queued; so each digest looks back ``OVERLAP`` further and
leaves out what the previous digest already listed. A day without episodes sends
nothing (and writes nothing); the next digest's window then starts at the last digest
sent, up to ``MAX_CATCH_UP`` back, so a service that was down loses no episode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alerts.channels import delivery_names, routes_to
from alerts.detect import spike_alert
from alerts.message import Alert
from alerts.mutes import muted_until
from alerts.outbox import enqueue
from clock.moments import aware, utc
from config.models import Config
from storage.locks import DETECT_LOCK, lock_for_transaction
from storage.models import AlertEpisode, OutboxMessage

logger = logging.getLogger(__name__)

MAX_CATCH_UP = timedelta(days=7)
"""The longest window a digest covers after days without one."""
OVERLAP = timedelta(hours=1)
"""How far before its window a digest looks for episodes committed late."""


@dataclass(frozen=True)
class DueDigest:
    local_date: date
    """The local date the digest is for (its key, and its title)."""
    since: datetime
    """Start of its window (naive UTC): the previous digest's time."""
    until: datetime
    """End of its window (naive UTC): this digest's time on ``local_date``."""


def digest_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on the local ``day``, as naive UTC. On the day clocks go forward, a time in
    the skipped hour is taken with the offset before the change (02:30 is 03:30 summer
    time); on the day they go back, a time that happens twice is its first occurrence."""
    return utc(datetime.combine(day, at, tzinfo=zone))


def due_digest(now: datetime, at: time, zone: ZoneInfo, last: date | None) -> DueDigest | None:
    """The digest due at ``now`` (naive UTC) for a channel whose last digest was for the
    local date ``last`` (None: never); None when none is due.

    Due: the latest local date whose ``at`` has come, unless that date had its digest.
    Its window runs from the time of the ``last`` digest (at most ``MAX_CATCH_UP`` back;
    the day before when there was none) to its own time."""
    today = aware(now).astimezone(zone).date()
    day = today if digest_time(today, at, zone) <= now else today - timedelta(days=1)
    if last is not None and day <= last:
        return None
    previous = day - timedelta(days=1)
    if last is not None and day - last <= MAX_CATCH_UP:
        previous = last
    elif last is not None:
        previous = day - MAX_CATCH_UP
    return DueDigest(day, digest_time(previous, at, zone), digest_time(day, at, zone))


# -- the shell --------------------------------------------------------------------------


@dataclass(frozen=True)
class LastDigest:
    local_date: date
    listed: frozenset[tuple[int, str]]
    """(episode id, kind) of each entry it listed."""


def queue_due_digests(session: Session, config: Config, now: datetime) -> list[OutboxMessage]:
    """Queue every digest due at ``now`` in the caller's transaction; the rows written."""
    digest_channels = [c for c in config.alerts.channels if c.mode == "digest"]
    if not digest_channels:
        return []
    # Wait for a detection run in flight: the episodes it opens before the digest
    # time belong in this digest.
    lock_for_transaction(session, DETECT_LOCK)
    zone = config.alerts.zone
    muted = muted_until(session, now)
    written: list[OutboxMessage] = []
    for channel in digest_channels:
        clusters = [
            c.name for c in config.clusters if routes_to(channel.name, c) and c.name not in muted
        ]
        for name in delivery_names(config.alerts, only=[channel.name]):
            last = last_digest(session, name)
            due = due_digest(now, channel.digest_at, zone, last.local_date if last else None)
            if due is None:
                continue
            listed = last.listed if last else frozenset()
            episodes = digest_episodes(session, clusters, due, listed)
            if not episodes:
                continue
            alert = digest_alert(session, due, episodes, config, channel.name)
            written += enqueue(session, alert, [name], now)
            logger.info(
                "digest for %s on %s queued: %d episode(s)", name, due.local_date, len(episodes)
            )
    return written


def last_digest(session: Session, channel: str) -> LastDigest | None:
    """The newest digest queued for the outbox channel ``channel``, if any."""
    payload = session.scalars(
        select(OutboxMessage.payload)
        .where(OutboxMessage.channel == channel, OutboxMessage.kind == "digest")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    ).first()
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        listed = frozenset(
            (int(entry["episode_id"]), str(entry["kind"])) for entry in data.get("entries") or ()
        )
        return LastDigest(date.fromisoformat(data["extra"]["date"]), listed)
    except (ValueError, KeyError, TypeError):
        logger.error("digest for %s: the last digest's payload is unreadable", channel)
        return None


@dataclass(frozen=True)
class DigestEpisode:
    row: AlertEpisode
    kind: str
    """``open`` (opened in the window) or ``update`` (opened before, grew in it)."""


def digest_episodes(
    session: Session, clusters: Collection[str], due: DueDigest, listed: Collection[tuple[int, str]]
) -> list[DigestEpisode]:
    """Episodes of ``clusters`` opened or updated in the digest's window (looking back
    ``OVERLAP`` for late commits), not muted, and not ``listed`` by the previous one."""
    if not clusters:
        return []
    since = due.since - OVERLAP
    rows = session.scalars(
        select(AlertEpisode)
        .where(
            AlertEpisode.cluster.in_(list(clusters)),
            AlertEpisode.muted.is_(False),
            or_(
                and_(AlertEpisode.opened_at >= since, AlertEpisode.opened_at < due.until),
                and_(AlertEpisode.updated_at >= since, AlertEpisode.updated_at < due.until),
            ),
        )
        .order_by(AlertEpisode.opened_at, AlertEpisode.id)
    )
    chosen = []
    for row in rows:
        if since <= row.opened_at < due.until and (row.id, "open") not in listed:
            chosen.append(DigestEpisode(row, "open"))
        elif (
            row.updated_at is not None
            and since <= row.updated_at < due.until
            and (row.id, "update") not in listed
        ):
            chosen.append(DigestEpisode(row, "update"))
    return chosen


def digest_alert(
    session: Session, due: DueDigest, episodes: Sequence[DigestEpisode], config: Config, name: str
) -> Alert:
    """The digest as one alert: each episode an entry, as its own alert would read."""
    width = config.detection.bucket
    entries = tuple(_entry(session, episode, width) for episode in episodes)
    return Alert(
        kind="digest",
        cluster=", ".join(dict.fromkeys(entry.cluster for entry in entries)),
        bucket_start=due.since,
        bucket_end=due.until,
        observed=len(entries),
        expected=0.0,
        tail_probability=1.0,
        sources=0,
        extra={
            "date": due.local_date.isoformat(),
            "timezone": config.alerts.timezone,
            "channel": name,
        },
        entries=entries,
    )


def _entry(session: Session, episode: DigestEpisode, width: timedelta) -> Alert:
    row = episode.row
    opened = episode.kind == "open"
    return spike_alert(
        session,
        "open" if opened else "update",
        row.cluster,
        row.onset_bucket if opened else row.last_bucket,
        width,
        observed=row.observed if opened else row.peak_count,
        expected=row.expected,
        tail_probability=row.tail_probability,
        sources=row.sources,
        episode_id=row.id,
    )
