"""The leader's half of distributed mode: due sources -> claimed -> tickets in Redis.

The database stays the schedule. A tick *claims* the due sources in one transaction:
each one's ``next_poll_at`` moves to ``now + lease``, so it is not due (and not claimed)
again while its poll runs. After the commit the tickets are pushed to the frontier
(``spiders.distributed.frontier``) for the workers. When the poll is recorded, ``record_poll`` sets
the real next due time; when it is not (a worker was killed, Redis lost the ticket, the
leader died between commit and push), the source is simply due again after the lease.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.models import Config
from spiders.crawler.run import source_job
from spiders.distributed.frontier import FrontierKeys, Ticket
from storage.engine import transaction
from storage.models import Source
from storage.queries import due_early, source_is_due

logger = logging.getLogger(__name__)

PUSH_CHUNK = 1000


def claim_due_sources(
    session: Session, config: Config, now: datetime, lease: timedelta, limit: int | None = None
) -> list[Ticket]:
    """Claim the enabled sources due at ``now`` (soonest first): one ticket each."""
    due = source_is_due(now, due_early(config.service.tick))
    query = select(Source).where(due).order_by(Source.next_poll_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    configured = {source.name: source for source in config.sources}
    tickets = []
    for row in session.scalars(query):
        job = source_job(row, configured.get(row.name), config)
        tickets.append(Ticket(uuid.uuid4().hex, job, due_at=row.next_poll_at, claimed_at=now))
        row.next_poll_at = now + lease
    return tickets


@dataclass
class SourceQueue:
    """``enqueue_due(now)``: claim what is due and hand it to the workers."""

    config: Config
    sessions: sessionmaker[Session]
    redis: Any
    keys: FrontierKeys

    def enqueue_due(self, now: datetime) -> list[Ticket]:
        assert self.config.distributed is not None
        with transaction(self.sessions) as session:
            tickets = claim_due_sources(session, self.config, now, self.config.distributed.lease)
        if tickets:
            self.push(tickets)
        return tickets

    def push(self, tickets: Sequence[Ticket]) -> None:
        try:
            for start in range(0, len(tickets), PUSH_CHUNK):
                chunk = tickets[start : start + PUSH_CHUNK]
                self.redis.rpush(self.keys.sources, *(ticket.to_json() for ticket in chunk))
        except Exception as exc:
            # Claimed but not queued: due again when the lease ends.
            logger.error("could not queue %d due sources in Redis: %s", len(tickets), exc)
            raise

    def backlog(self) -> tuple[int, int]:
        """(tickets not yet taken, requests waiting in the shared queue)."""
        with self.redis.pipeline() as pipe:
            pipe.llen(self.keys.sources)
            pipe.llen(self.keys.requests)
            sources, requests = pipe.execute()
        return int(sources), int(requests)
