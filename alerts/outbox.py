"""The alert outbox: written with the episode, delivered later, marked sent after acceptance.

``enqueue`` writes one row per channel in the caller's transaction (the one that
opened or updated the episode); its idempotency key (episode, kind, channel) makes a
second enqueue of the same alert a no-op, on SQLite and PostgreSQL alike.

``deliver_due`` is one delivery pass (the service's deliver job, ``alerts deliver``):

1. messages left ``sending`` past their lease (a crash mid-send) go back to pending;
2. each due pending message is *claimed* by one conditional UPDATE
   (``status='pending' -> 'sending'`` with ``claimed_at`` and a random ``claim_token``),
   committed before sending: two deliverers never take the same message. The lease runs
   from the claim itself (``now`` plus the time the pass has taken so far), not from
   the start of the pass, so a long pass over slow channels never claims a message
   whose lease has already run out;
3. it is sent with no database transaction open;
4. it is marked ``sent`` (only if the claim is still ours) right after the channel
   accepted it; on failure it goes back to pending with ``attempts + 1`` and an
   exponential backoff with jitter (30 s, 1 min, 2 min, ... capped at 1 h). A failing
   channel is not tried again in the same pass, and its other due messages wait with it.

Semantics: **at-least-once, with duplicates made rare and recognisable.** Nothing is
lost: a message is pending until a channel accepted it, however long the channel is
down (after a day of failures every retry is logged at ERROR; it still retries at the
cap). Nothing is sent twice by two deliverers or by a restart: the claim is atomic and
a sent row is never claimed again. The one window left is a crash (or a lost database)
between the channel accepting a message and the ``sent`` commit; that message is sent
once more after its lease expires. The window is one small UPDATE long, and the resend
is recognisable: the email keeps its Message-ID (derived from the idempotency key) and
the Slack and apprise messages show the same reference. True exactly-once would need
the channel to deduplicate, which SMTP and incoming webhooks do not offer.

The state changes themselves (claim, sent, retry, failed, lease recovery) and the
retry policy live in ``alerts.claims``.

A message is ``failed`` only for permanent problems: its channel is no longer in the
config, or its payload cannot be read. Those are logged at ERROR.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import resolve_channel
from alerts.channels.base import Channel, RateLimitedError
from alerts.claims import (
    LEASE,
    LOUD_AFTER,
    MAX_DELAY,
    Claimed,
    claim,
    defer_channel,
    is_due,
    mark_failed,
    mark_sent,
    recover_interrupted,
    retry_delay,
    rowcount,
    schedule_retry,
)
from alerts.message import Alert
from mediawatch.errors import DeliveryError
from storage.models import OutboxMessage

__all__ = [
    "LEASE",
    "LOUD_AFTER",
    "MAX_DELAY",
    "DeliveryReport",
    "deliver_due",
    "enqueue",
    "idempotency_key",
    "recover_interrupted",
    "retry_delay",
]

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 300


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retrying: int = 0
    """Failed this time; pending again with a later ``next_attempt_at``."""
    failed: int = 0
    """Permanently failed (channel not configured, unreadable payload)."""
    recovered: int = 0
    """Found ``sending`` past their lease (a crash mid-send) and put back to pending."""
    deferred: int = 0
    """Due but not tried: their channel already failed in this pass, or another
    deliverer claimed them first."""
    errors: dict[str, str] = field(default_factory=dict)
    """Channel name -> the last error of this pass (secrets scrubbed)."""

    def __str__(self) -> str:
        parts = [f"{self.sent} sent", f"{self.retrying} to retry", f"{self.failed} failed"]
        if self.recovered:
            parts.append(f"{self.recovered} recovered after an interrupted send")
        if self.deferred:
            parts.append(f"{self.deferred} deferred")
        return ", ".join(parts)


# -- writing ----------------------------------------------------------------------------


def idempotency_key(alert: Alert, channel: str) -> str:
    """``"<episode>:<kind>:<channel>"`` for episode alerts; otherwise kind, cluster, bucket."""
    if alert.episode_id is not None:
        key = f"{alert.episode_id}:{alert.kind}:{channel}"
    else:
        key = f"{alert.kind}:{alert.cluster}:{alert.bucket_start:%Y-%m-%dT%H:%M}:{channel}"
    if len(key) > MAX_KEY_LENGTH:
        key = f"{alert.kind}:sha256:{hashlib.sha256(key.encode('utf-8')).hexdigest()}"
    return key


def enqueue(
    session: Session, alert: Alert, channels: Sequence[str], now: datetime
) -> list[OutboxMessage]:
    """Put ``alert`` in the outbox for each channel, in the caller's transaction.

    Returns the rows written now; a channel that already has this alert (same
    idempotency key) is skipped, so enqueueing the same alert twice is a no-op.
    """
    payload = alert.to_json()
    rows = [
        {
            "idempotency_key": idempotency_key(alert, channel),
            "episode_id": alert.episode_id,
            "channel": channel,
            "kind": alert.kind,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel in dict.fromkeys(channels)
    ]
    if not rows:
        return []
    written = [message for row in rows if (message := _insert_if_absent(session, row))]
    for message in written:
        logger.info("outbox: queued %s for channel %s", message.idempotency_key, message.channel)
    return written


def _insert_if_absent(session: Session, row: Mapping[str, Any]) -> OutboxMessage | None:
    """Insert ``row`` unless its idempotency key exists; the new row, or None.

    ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite (no RETURNING: any SQLite 3.24+ will
    do) and PostgreSQL; a savepoint around a plain INSERT elsewhere.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # psycopg reports no rowcount for this INSERT; RETURNING says what was written.
        returning = (
            postgresql_insert(OutboxMessage)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OutboxMessage.id)
        )
        inserted = session.execute(returning).first() is not None
    elif dialect == "sqlite":
        statement = (
            sqlite_insert(OutboxMessage)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        inserted = rowcount(session.execute(statement)) == 1
    else:  # pragma: no cover - other databases
        try:
            with session.begin_nested():
                session.execute(insert(OutboxMessage).values(**row))
            inserted = True
        except IntegrityError:
            inserted = False
    if not inserted:
        return None
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == row["idempotency_key"])
    ).one()


# -- delivering -------------------------------------------------------------------------


def deliver_due(
    session_factory: sessionmaker[Session],
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    limit: int = 50,
    lease: timedelta = LEASE,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """One delivery pass: at most ``limit`` due messages per channel. See the module doc.

    ``now`` decides what is due; ``clock`` stamps each claim (by default ``now`` plus
    the time elapsed since the pass started, i.e. the time of the claim on ``now``'s
    clock, whether that is the wall clock or a service's own)."""
    if clock is None:
        clock = _elapsed_since(now)
    report = DeliveryReport()
    report.recovered = recover_interrupted(session_factory, now, lease)
    with session_factory() as session:
        due_channels = list(
            session.scalars(
                select(OutboxMessage.channel).where(is_due(now)).distinct().order_by("channel")
            )
        )
    for channel_name in due_channels:
        _deliver_channel(
            session_factory,
            channel_name,
            resolve_channel(channels, channel_name),
            now,
            clock,
            limit,
            rng,
            report,
        )
    if report.sent or report.retrying or report.failed or report.recovered:
        logger.info("outbox: %s", report)
    return report


def _deliver_channel(
    session_factory: sessionmaker[Session],
    channel_name: str,
    channel: Channel | None,
    now: datetime,
    clock: Callable[[], datetime],
    limit: int,
    rng: random.Random | None,
    report: DeliveryReport,
) -> None:
    with session_factory() as session:
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(is_due(now), OutboxMessage.channel == channel_name)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
        )
    for message_id in ids:
        claimed = claim(session_factory, message_id, now, clock)
        if claimed is None:
            report.deferred += 1  # another deliverer took it, or it was deferred
            continue
        message, token = claimed
        error = _send(message, channel)
        if error is None:
            mark_sent(session_factory, message, token, now)
            report.sent += 1
            continue
        reason, retry_after, permanent = error
        report.errors[channel_name] = reason
        if permanent:
            mark_failed(session_factory, message, token, now, reason)
            report.failed += 1
            continue
        next_attempt_at = schedule_retry(
            session_factory, message, token, now, reason, retry_after, rng
        )
        report.retrying += 1
        # The channel is down: its other due messages wait with this one.
        report.deferred += defer_channel(session_factory, channel_name, now, next_attempt_at)
        return


def _elapsed_since(now: datetime) -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def _send(message: Claimed, channel: Channel | None) -> tuple[str, float | None, bool] | None:
    """None when the channel accepted; else (reason, retry_after seconds, permanent)."""
    if channel is None:
        return f"channel {message.channel!r} is not in the config (any more)", None, True
    try:
        alert = Alert.from_json(message.payload)
    except (ValueError, KeyError, TypeError) as exc:
        return f"unreadable alert payload: {type(exc).__name__}", None, True
    try:
        channel.send(alert, message.key)
    except RateLimitedError as exc:
        return str(exc), exc.retry_after, False
    except DeliveryError as exc:
        return str(exc), None, False
    except Exception as exc:
        # Not one of ours: its message may quote a secret (a URL), so keep only the type.
        return f"channel {message.channel} failed unexpectedly: {type(exc).__name__}", None, False
    return None
