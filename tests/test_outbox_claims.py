"""The outbox's claims and leases: a crash mid-send is recovered once, concurrent
deliverers never send a message twice, and each lease starts at its own claim."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from support.outbox_fixtures import (  # noqa: F401
    Recorder,
    email_channel,
    make_alert,
    new_episode,
    rows,
    sessions_fixture,
    slack_channel,
)
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import Channel
from alerts.claims import claim
from alerts.message import Alert
from alerts.outbox import LEASE, deliver_due, enqueue, recover_interrupted
from storage.engine import transaction
from storage.models import OutboxMessage


def test_a_crash_mid_send_is_recovered_after_the_lease_and_sent_once(
    sessions: sessionmaker[Session], now: datetime, smtp_sink: SmtpSink
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["email"], now)
        # The deliverer claimed it and died before sending (or before marking sent).
        session.execute(
            update(OutboxMessage).values(
                status="sending", claimed_at=now - timedelta(minutes=1), claim_token="dead"
            )
        )
    channels: dict[str, Channel] = {"email": email_channel(smtp_sink)}
    within_lease = deliver_due(sessions, channels, now)
    assert within_lease.sent == 0 and within_lease.recovered == 0
    assert smtp_sink.messages == []

    after_lease = deliver_due(sessions, channels, now + LEASE)
    assert (after_lease.recovered, after_lease.sent) == (1, 1)
    assert len(smtp_sink.messages) == 1
    [message] = rows(sessions)
    assert (message.status, message.claim_token, message.claimed_at) == ("sent", None, None)
    assert deliver_due(sessions, channels, now + 2 * LEASE).sent == 0
    assert len(smtp_sink.messages) == 1


def test_two_concurrent_deliverers_send_each_message_exactly_once(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(12)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["slack", "recorder"], now)
    recorder = Recorder()
    channels: dict[str, Channel] = {"slack": slack_channel(slack_hook), "recorder": recorder}
    start = threading.Barrier(2)
    reports = []
    errors: list[BaseException] = []

    def deliverer() -> None:
        try:
            start.wait()
            reports.append(deliver_due(sessions, channels, now))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliverer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(report.sent for report in reports) == 24
    refs = [
        block["elements"][0]["text"]
        for p in slack_hook.slack_payloads()
        for block in p["blocks"]
        if block["type"] == "context"
    ]
    assert len(refs) == 12 and len(set(refs)) == 12
    assert sorted(recorder.sent) == sorted(f"{e}:open:recorder" for e in episodes)
    assert {m.status for m in rows(sessions)} == {"sent"}


def test_the_lease_starts_at_each_claim_not_at_the_start_of_the_pass(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(4)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["slow"], now)
    clock = [now]
    recovered: list[int] = []

    class Slow(Recorder):
        """Three minutes per message (a slow SMTP server); meanwhile another deliverer
        starts a pass and recovers whatever lease it finds expired."""

        def send(self, alert: Alert, idempotency_key: str) -> None:
            clock[0] += timedelta(minutes=3)
            recovered.append(recover_interrupted(sessions, clock[0]))
            super().send(alert, idempotency_key)

    slow = Slow("slow")
    report = deliver_due(sessions, {"slow": slow}, now, clock=lambda: clock[0])
    assert report.sent == 4 and report.recovered == 0
    assert recovered == [0, 0, 0, 0]  # the 3rd claim (at +6 min) was still leased at +9
    assert sorted(slow.sent) == sorted(f"{e}:open:slow" for e in episodes)
    assert {m.status for m in rows(sessions)} == {"sent"}


def test_claim_stamps_the_lease_with_a_fresh_clock_reading(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    with transaction(sessions) as session:
        enqueue(session, make_alert(new_episode(sessions, now), now), ["recorder"], now)
    [message] = rows(sessions)
    later = now + timedelta(minutes=7)
    assert claim(sessions, message.id, now, clock=lambda: later) is not None
    [message] = rows(sessions)
    assert (message.status, message.claimed_at) == ("sending", later)


def test_by_default_a_claim_is_stamped_with_now_plus_the_time_the_pass_took(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    for cluster in ("A", "B"):
        with transaction(sessions) as session:
            enqueue(session, make_alert(new_episode(sessions, now, cluster), now), ["r"], now)
    leases: list[datetime] = []

    class Leased(Recorder):
        def send(self, alert: Alert, idempotency_key: str) -> None:
            [row] = [m for m in rows(sessions) if m.status == "sending"]
            assert row.claimed_at is not None
            leases.append(row.claimed_at)
            time.sleep(0.3)
            super().send(alert, idempotency_key)

    assert deliver_due(sessions, {"r": Leased("r")}, now).sent == 2
    assert now <= leases[0] < now + timedelta(seconds=0.3)
    assert now + timedelta(seconds=0.3) <= leases[1] < now + timedelta(seconds=30)
