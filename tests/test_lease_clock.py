"""Leases across hosts are read by one clock, the database's: a host whose own clock runs
hours ahead neither drops a live ticket as stale nor recovers a live outbox claim."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.claims import claim, recover_interrupted
from alerts.message import Alert
from alerts.outbox import enqueue
from clock.moments import utcnow
from spiders.crawler.jobs import SourceJob
from spiders.distributed.frontier import Ticket
from storage.dbclock import DatabaseClock
from storage.engine import make_engine, session_factory, transaction
from storage.migrate import upgrade
from storage.models import AlertEpisode, OutboxMessage

pytestmark = pytest.mark.postgres

LEASE = timedelta(minutes=10)
SKEW = timedelta(hours=3)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_host_hours_ahead_reads_the_databases_time(engine: Engine) -> None:
    ahead = DatabaseClock(engine, local=lambda: utcnow() + SKEW)
    behind = DatabaseClock(engine, local=lambda: utcnow() - SKEW)
    assert abs(ahead() - behind()) < timedelta(seconds=5)
    assert abs(ahead() - utcnow()) < timedelta(seconds=5)  # this test's host is the DB's


def test_a_worker_hours_ahead_keeps_a_live_ticket(engine: Engine) -> None:
    leader = DatabaseClock(engine)
    worker = DatabaseClock(engine, local=lambda: utcnow() + SKEW)
    ticket = Ticket("p1", SourceJob("Wire", "https://wire.example/rss"), leader(), leader())
    assert not ticket.stale(worker(), LEASE)
    # What the worker's own clock would have said:
    assert ticket.stale(utcnow() + SKEW, LEASE)


def test_a_deliverer_hours_ahead_does_not_steal_a_live_outbox_claim(engine: Engine) -> None:
    sessions: sessionmaker[Session] = session_factory(engine)
    here = DatabaseClock(engine)
    ahead = DatabaseClock(engine, local=lambda: utcnow() + SKEW)
    now = here()
    with transaction(sessions) as session:
        episode = AlertEpisode(
            cluster="Dam", status="open", onset_bucket=now - timedelta(hours=1), opened_at=now,
            last_bucket=now - timedelta(hours=1), observed=9, expected=1.0,
            tail_probability=1e-6, peak_count=9, sources=3,
        )  # fmt: skip
        session.add(episode)
        session.flush()
        alert = Alert(
            kind="open", cluster="Dam", bucket_start=now - timedelta(hours=1), bucket_end=now,
            observed=9, expected=1.0, tail_probability=1e-6, sources=3, episode_id=episode.id,
        )  # fmt: skip
        enqueue(session, alert, ["slack"], now)
        session.flush()
        [message_id] = session.scalars(select(OutboxMessage.id)).all()
    assert claim(sessions, message_id, now, clock=here) is not None  # live, sending
    assert recover_interrupted(sessions, ahead(), LEASE) == 0
    with sessions() as session:
        assert session.get(OutboxMessage, message_id).status == "sending"  # type: ignore[union-attr]
