"""The outbox's state changes, each one short transaction: claim, sent, retry, failed.

``pending -> sending`` (claim: one conditional UPDATE, so two deliverers never take
the same message) ``-> sent`` (after the channel accepted) or ``-> pending`` with a
later ``next_attempt_at`` (retry) or ``-> failed`` (permanent). A message left
``sending`` past its lease goes back to pending (``recover_interrupted``). Every
UPDATE writes before it reads, so SQLite takes its write lock first and waits for it
(busy timeout) instead of failing on a stale read snapshot.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clock.moments import utcnow
from storage.engine import rowcount, transaction
from storage.models import OutboxMessage

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
"""How long a claim lasts; longer than any channel's timeout (SMTP: 30 s by default)."""
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
LOUD_AFTER = timedelta(hours=24)
"""Undelivered for longer than this: every failed retry is logged at ERROR."""
REJECTED_TRIES = 3
"""A message its channel refuses for good (SMTP 5yz, a webhook's 4xx) is failed when it
has been tried this many times in all: a rejection is not repeated forever, but a
content filter that misfires once does not lose an alert either."""


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 30 s x 2^(attempts-1), at most
    1 h, then 80-100% of that (jitter, so messages of one channel do not march in step)."""
    exponent = min(max(attempts - 1, 0), 20)
    delay = min(BASE_DELAY * (2**exponent), MAX_DELAY)
    jitter = 0.8 + 0.2 * (rng or random).random()
    return delay * jitter


@dataclass(frozen=True)
class Claimed:
    id: int
    key: str
    channel: str
    payload: str
    attempts: int
    created_at: datetime


def recover_interrupted(
    session_factory: sessionmaker[Session], now: datetime, lease: timedelta = LEASE
) -> int:
    """Put messages left ``sending`` past their lease back to pending; returns how many."""
    marker = f"recovering-{uuid.uuid4().hex}"
    with transaction(session_factory) as session:
        # Write first (SQLite takes its write lock here), then read what was marked.
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "sending",
                or_(OutboxMessage.claimed_at.is_(None), OutboxMessage.claimed_at < now - lease),
            )
            .values(
                status="pending",
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now,
                claimed_at=None,
                claim_token=marker,
                last_error="interrupted while sending (the deliverer stopped); "
                "it may have been delivered once already",
            ),
            execution_options={"synchronize_session": False},
        )
        keys = list(
            session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.claim_token == marker)
            )
        )
        if keys:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.claim_token == marker)
                .values(claim_token=None),
                execution_options={"synchronize_session": False},
            )
    for key in keys:
        logger.warning(
            "outbox: %s was left sending past its lease (crash mid-send?); retrying it, "
            "so it may arrive twice",
            key,
        )
    return len(keys)


def is_due(now: datetime) -> ColumnElement[bool]:
    return (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)


def claim(
    session_factory: sessionmaker[Session],
    message_id: int,
    now: datetime,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Claimed, str] | None:
    """Take the message if it is due at ``now``; the lease runs from ``clock()``, read
    here: a pass that started long ago (slow channels) must not hand out a lease that
    is already over, which another deliverer would recover and send again."""
    token = uuid.uuid4().hex
    with transaction(session_factory) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, is_due(now))
            .values(status="sending", claimed_at=clock(), claim_token=token),
            execution_options={"synchronize_session": False},
        )
        if rowcount(result) != 1:
            return None
        row = session.execute(
            select(
                OutboxMessage.idempotency_key,
                OutboxMessage.channel,
                OutboxMessage.payload,
                OutboxMessage.attempts,
                OutboxMessage.created_at,
            ).where(OutboxMessage.id == message_id)
        ).one()
    return Claimed(message_id, row[0], row[1], row[2], row[3], row[4]), token


def _release(
    session_factory: sessionmaker[Session], message: Claimed, token: str, **values: Any
) -> Any:
    """End our claim on ``message`` with ``values``; a no-op if the claim is no longer ours
    (the lease expired and another deliverer took it). Returns the UPDATE's result."""
    with transaction(session_factory) as session:
        return session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.claim_token == token)
            .values(claimed_at=None, claim_token=None, **values),
            execution_options={"synchronize_session": False},
        )


def mark_sent(
    session_factory: sessionmaker[Session], message: Claimed, token: str, now: datetime
) -> None:
    """Record acceptance; retried briefly, because a failure here means a resend later."""
    for attempt in range(3):
        try:
            result = _release(
                session_factory, message, token, status="sent", sent_at=now, last_error=None
            )
            break
        except SQLAlchemyError as exc:
            if attempt == 2:
                logger.error(
                    "outbox: %s was delivered but cannot be marked sent (%s); it will be "
                    "sent again after its lease expires",
                    message.key,
                    type(exc).__name__,
                )
                return
            time.sleep(0.5 * (attempt + 1))
    if rowcount(result) != 1:
        logger.warning(
            "outbox: %s was delivered after its claim expired; another deliverer may send it too",
            message.key,
        )
    logger.info("outbox: %s delivered through %s", message.key, message.channel)


def mark_failed(
    session_factory: sessionmaker[Session],
    message: Claimed,
    token: str,
    reason: str,
) -> None:
    """Give up on ``message``: ``failed`` with its reason, shown by ``alerts list``."""
    _release(
        session_factory,
        message,
        token,
        status="failed",
        attempts=OutboxMessage.attempts + 1,
        last_error=reason,
    )
    attempts = message.attempts + 1
    logger.error(
        "outbox: %s through %s failed for good after %d %s: %s",
        message.key,
        message.channel,
        attempts,
        "try" if attempts == 1 else "tries",
        reason,
    )


def schedule_retry(
    session_factory: sessionmaker[Session],
    message: Claimed,
    token: str,
    now: datetime,
    reason: str,
    retry_after: float | None,
    rng: random.Random | None,
) -> datetime:
    attempts = message.attempts + 1
    delay = max(retry_delay(attempts, rng), _pause(retry_after))
    next_attempt_at = now + delay
    _release(
        session_factory,
        message,
        token,
        status="pending",
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_error=reason,
    )
    waiting = now - message.created_at
    level = logging.ERROR if waiting >= LOUD_AFTER else logging.WARNING
    logger.log(
        level,
        "outbox: %s not delivered through %s (attempt %d, waiting %s): %s; next try at %s",
        message.key,
        message.channel,
        attempts,
        _hours(waiting),
        reason,
        f"{next_attempt_at:%Y-%m-%d %H:%M:%S}",
    )
    return next_attempt_at


def _pause(retry_after: float | None) -> timedelta:
    """The pause a channel asked for, at most ``MAX_DELAY``: whatever number a channel
    passes (NaN, infinite, negative, 1e20), the next try is a valid date, so the
    message goes back to pending instead of staying claimed on an exception."""
    if retry_after is None or not math.isfinite(retry_after) or retry_after <= 0:
        return timedelta(0)
    return timedelta(seconds=min(retry_after, MAX_DELAY.total_seconds()))


def defer_channel(session_factory: sessionmaker[Session], channel: str, until: datetime) -> int:
    """Hold the channel's pending messages due before ``until`` back to ``until`` (their
    attempts unchanged): the channel is out, trying them sooner would only fail."""
    with transaction(session_factory) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.channel == channel,
                OutboxMessage.next_attempt_at < until,
            )
            .values(next_attempt_at=until),
            execution_options={"synchronize_session": False},
        )
    return rowcount(result)


def _hours(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
