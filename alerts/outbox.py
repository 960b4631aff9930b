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
   exponential backoff with jitter (30 s, 1 min, 2 min, ... capped at 1 h; a longer
   ``Retry-After`` is honoured up to that cap).

What a failure holds back depends on whose fault it is (``alerts.channels.base``):

* the channel is out (no connection, a timeout, a 5xx, SMTP 4yz, a wrong password): it
  is not tried again in this pass, and its other pending messages wait with it, to the
  same time, so the channel's backoff grows with the first message's tries. But a
  message that had failed before may be failing for a reason of its own (a server that
  answers 5xx to that payload only), and it comes first again: so when such a message
  fails, one more message is tried, and the channel is held back only if that one fails
  too (or the channel's first try of the pass was a message's first try);
* the channel refused this message (``MessageRejectedError``: SMTP 5yz, a webhook's
  4xx): only this message is retried, and it is ``failed`` at its ``REJECTED_TRIES``-th
  try; the pass goes on with the channel's other messages.

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

A message is ``failed`` only for permanent problems: its channel refused it
``REJECTED_TRIES`` times, its channel is no longer in the config, or its payload cannot
be read. Each is logged once at ERROR, counted in ``DeliveryReport.failed`` (the
service's ``mediawatch_alerts_failed`` metric) and shown, with its reason, by
``mediawatch alerts list``. A channel that is out never fails a message: it is kept
until the channel works again.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import resolve_channel
from alerts.channels.base import Channel, MessageRejectedError, RateLimitedError
from alerts.claims import (
    LEASE,
    LOUD_AFTER,
    MAX_DELAY,
    REJECTED_TRIES,
    Claimed,
    claim,
    defer_channel,
    is_due,
    mark_failed,
    mark_sent,
    recover_interrupted,
    retry_delay,
    schedule_retry,
)
from alerts.message import Alert
from errors import DeliveryError
from storage.engine import rowcount
from storage.models import OutboxMessage

__all__ = [
    "LEASE",
    "LOUD_AFTER",
    "MAX_DELAY",
    "REJECTED_TRIES",
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
    """Given up on: refused by the channel ``REJECTED_TRIES`` times, channel not
    configured, unreadable payload."""
    recovered: int = 0
    """Found ``sending`` past their lease (a crash mid-send) and put back to pending."""
    deferred: int = 0
    """Held back without a try: their channel is out (they wait for its next try), or
    another deliverer claimed them first."""
    errors: dict[str, str] = field(default_factory=dict)
    """Channel name -> the last error of this pass (secrets scrubbed)."""
    failures: dict[str, str] = field(default_factory=dict)
    """Idempotency key -> why it failed, for each message failed in this pass."""

    def __str__(self) -> str:
        parts = [f"{self.sent} sent", f"{self.retrying} to retry", f"{self.failed} failed"]
        if self.recovered:
            parts.append(f"{self.recovered} recovered after an interrupted send")
        if self.deferred:
            parts.append(f"{self.deferred} deferred")
        return ", ".join(parts)


# -- writing ----------------------------------------------------------------------------


def idempotency_key(alert: Alert, channel: str) -> str:
    """``"<episode>:<kind>:<channel>"`` for episode alerts, ``"digest:<channel>:<date>"``
    for a daily digest (one per channel and local date); otherwise kind, cluster, bucket."""
    if alert.kind == "digest" and "date" in alert.extra:
        key = f"digest:{channel}:{alert.extra['date']}"
    elif alert.episode_id is not None:
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
    last_try_failed = False
    held_until: datetime | None = None
    for position, message_id in enumerate(ids):
        claimed = claim(session_factory, message_id, now, clock)
        if claimed is None:
            report.deferred += 1  # another deliverer took it, or it was deferred
            continue
        message, token = claimed
        failure = _send(message, channel)
        if failure is None:
            mark_sent(session_factory, message, token, now)
            report.sent += 1
            last_try_failed = False
            continue
        report.errors[channel_name] = failure.reason
        if failure.gives_up(message.attempts + 1):
            mark_failed(session_factory, message, token, failure.reason)
            report.failed += 1
            report.failures[message.key] = failure.reason
            last_try_failed = False
            continue
        next_attempt_at = schedule_retry(
            session_factory, message, token, now, failure.reason, failure.retry_after, rng
        )
        report.retrying += 1
        if failure.scope == "message":
            last_try_failed = False  # the channel answered: it works
            continue
        if channel_is_out(last_try_failed, position == 0, message.attempts):
            until = max(next_attempt_at, held_until or next_attempt_at)
            report.deferred += defer_channel(session_factory, channel_name, until)
            return
        last_try_failed = True
        held_until = next_attempt_at


def channel_is_out(last_try_failed: bool, first_of_pass: bool, failed_before: int) -> bool:
    """Whether a try that failed at the channel level holds the channel's other messages
    back: yes after two such tries in a row, or when the pass's first try was a message's
    first. A message that had failed before (``failed_before`` > 0) may be failing for a
    reason of its own (a 5xx for that payload only), and being the oldest it comes first
    in every pass: one more message is tried before the others wait with it."""
    return last_try_failed or (first_of_pass and failed_before == 0)


@dataclass(frozen=True)
class Failure:
    """Why a send did not succeed, and whose fault it was."""

    reason: str
    scope: Literal["channel", "message", "final"]
    """``channel``: the channel is out (retry, the others wait); ``message``: the channel
    refused this message (retry it alone, at most ``REJECTED_TRIES`` tries in all);
    ``final``: no try can succeed (fail now)."""
    retry_after: float | None = None

    def gives_up(self, attempts: int) -> bool:
        """Whether the message is failed after its ``attempts``-th try ended so."""
        return self.scope == "final" or (self.scope == "message" and attempts >= REJECTED_TRIES)


def _elapsed_since(now: datetime) -> Callable[[], datetime]:
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def _send(message: Claimed, channel: Channel | None) -> Failure | None:
    """None when the channel accepted the message; else why not."""
    if channel is None:
        return Failure(f"channel {message.channel!r} is not in the config (any more)", "final")
    try:
        alert = Alert.from_json(message.payload)
    except (ValueError, KeyError, TypeError) as exc:
        return Failure(f"unreadable alert payload: {type(exc).__name__}", "final")
    try:
        channel.send(alert, message.key)
    except RateLimitedError as exc:
        return Failure(str(exc), "channel", exc.retry_after)
    except MessageRejectedError as exc:
        return Failure(str(exc), "message")
    except DeliveryError as exc:
        return Failure(str(exc), "channel")
    except Exception as exc:
        # Not one of ours: its message may quote a secret (a URL), so keep only the type.
        reason = f"channel {message.channel} failed unexpectedly: {type(exc).__name__}"
        return Failure(reason, "channel")
    return None
