"""The outbox on SQLite and PostgreSQL: idempotent writes, retries, no loss, no duplicates."""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from support.alert_episodes import open_episode
from support.slack_hook import SLACK_TOKEN_PATH, Scripted, SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import (
    Channel,
    EmailChannel,
    SlackChannel,
    build_channels,
    delivery_names,
    resolve_channel,
)
from alerts.claims import claim
from alerts.message import Alert, Headline
from alerts.outbox import (
    LEASE,
    MAX_DELAY,
    deliver_due,
    enqueue,
    idempotency_key,
    recover_interrupted,
    retry_delay,
)
from config.channels import AlertsConfig, EmailChannelConfig, SlackChannelConfig
from errors import DeliveryError
from storage.engine import session_factory, transaction
from storage.models import OutboxMessage


def new_episode(sessions: sessionmaker[Session], now: datetime, cluster: str = "IMIS") -> int:
    with transaction(sessions) as session:
        return open_episode(session, cluster, now).id


def make_alert(episode_id: int, now: datetime, kind: str = "open") -> Alert:
    return Alert(
        kind=kind,  # type: ignore[arg-type]
        cluster="IMIS",
        bucket_start=now - timedelta(hours=1),
        bucket_end=now,
        observed=23,
        expected=2.1,
        tail_probability=2e-5,
        sources=9,
        languages=("en",),
        headlines=(Headline("Militias push", "https://a.example/1", "A"),),
        episode_id=episode_id,
    )


def rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


class Recorder:
    """A channel that remembers what it was given (and can be told to fail)."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.sent: list[str] = []
        self.failing: str | None = None
        self.lock = threading.Lock()

    def send(self, alert: Alert, idempotency_key: str) -> None:
        if self.failing:
            raise DeliveryError(self.failing)
        with self.lock:
            self.sent.append(idempotency_key)


@pytest.fixture
def sessions(migrated_engine: Engine) -> sessionmaker[Session]:
    return session_factory(migrated_engine)


def email_channel(sink: SmtpSink) -> EmailChannel:
    config = EmailChannelConfig.model_validate(
        {
            "type": "email",
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "from": "mediawatch@example.org",
            "to": ["analyst@example.org"],
            "username": SMTP_USER,
            "password_env": "TEST_SMTP_PASSWORD",
            "timeout": "5s",
        }
    )
    return EmailChannel(config, environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD})


def slack_channel(hook: SlackHook) -> SlackChannel:
    config = SlackChannelConfig(type="slack", webhook_url_env="TEST_SLACK_URL")
    return SlackChannel(config, environ={"TEST_SLACK_URL": hook.url}, timeout=5)


# -- writing ----------------------------------------------------------------------------


def test_enqueue_twice_writes_one_row_per_channel(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    episode = new_episode(sessions, now)
    alert = make_alert(episode, now)
    with transaction(sessions) as session:
        first = enqueue(session, alert, ["email", "slack"], now)
    with transaction(sessions) as session:
        second = enqueue(session, alert, ["email", "slack", "email"], now)
    assert [m.idempotency_key for m in first] == [f"{episode}:open:email", f"{episode}:open:slack"]
    assert second == []
    stored = rows(sessions)
    assert [(m.channel, m.status, m.kind) for m in stored] == [
        ("email", "pending", "open"),
        ("slack", "pending", "open"),
    ]
    assert Alert.from_json(stored[0].payload) == alert


def test_an_update_is_a_new_message_but_only_once(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["email"], now)
        enqueue(session, make_alert(episode, now, "update"), ["email"], now)
        enqueue(session, make_alert(episode, now, "update"), ["email"], now)
    assert [m.idempotency_key for m in rows(sessions)] == [
        f"{episode}:open:email",
        f"{episode}:update:email",
    ]


def test_enqueue_rolls_back_with_the_callers_transaction(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    episode = new_episode(sessions, now)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["email"], now)
        raise RuntimeError("detection failed later in the same transaction")
    assert rows(sessions) == []


# -- the retry policy -------------------------------------------------------------------


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 12)]
    assert timedelta(seconds=24) <= delays[0] <= timedelta(seconds=30)
    assert timedelta(seconds=48) <= delays[1] <= timedelta(seconds=60)
    assert all(delay <= MAX_DELAY for delay in delays)
    assert delays[-1] >= MAX_DELAY * 0.8
    assert retry_delay(10_000) <= MAX_DELAY


# -- delivering -------------------------------------------------------------------------


def test_delivers_through_email_and_slack_and_marks_sent(
    sessions: sessionmaker[Session], now: datetime, smtp_sink: SmtpSink, slack_hook: SlackHook
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["email", "slack"], now)
    channels: dict[str, Channel] = {
        "email": email_channel(smtp_sink),
        "slack": slack_channel(slack_hook),
    }
    report = deliver_due(sessions, channels, now)
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert len(smtp_sink.messages) == 1 and len(slack_hook.slack_payloads()) == 1
    assert {(m.status, m.sent_at) for m in rows(sessions)} == {("sent", now)}
    again = deliver_due(sessions, channels, now + timedelta(hours=1))
    assert again.sent == 0
    assert len(smtp_sink.messages) == 1 and len(slack_hook.slack_payloads()) == 1


def test_smtp_down_retries_with_backoff_then_delivers_once(
    sessions: sessionmaker[Session], now: datetime, smtp_sink: SmtpSink
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(3)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["email"], now)
    channels: dict[str, Channel] = {"email": email_channel(smtp_sink)}
    smtp_sink.stop()

    first = deliver_due(sessions, channels, now, rng=random.Random(3))
    # One try reaches the dead server; the channel's other messages wait with it.
    assert (first.sent, first.retrying, first.deferred) == (0, 1, 2)
    assert "cannot send through SMTP server" in first.errors["email"]
    stored = rows(sessions)
    assert {m.status for m in stored} == {"pending"}
    assert [m.attempts for m in stored] == [1, 0, 0]
    retry_at = stored[0].next_attempt_at
    assert now + timedelta(seconds=24) <= retry_at <= now + timedelta(seconds=30)
    assert {m.next_attempt_at for m in stored} == {retry_at}
    assert "cannot send through SMTP server" in (stored[0].last_error or "")

    assert deliver_due(sessions, channels, now + timedelta(seconds=10)).retrying == 0  # not due

    # Down for an hour: attempts pile up, each further apart; nothing is lost.
    moment, tries = now, 1
    while moment < now + timedelta(hours=1):
        moment = min(m.next_attempt_at for m in rows(sessions))
        report = deliver_due(sessions, channels, moment, rng=random.Random(tries))
        # The first message failed before, so one more is tried before the channel waits.
        assert report.sent == 0 and report.retrying == 2
        tries += 1
    stored = rows(sessions)
    assert stored[0].attempts == tries
    assert 5 <= tries <= 9
    gaps = stored[0].next_attempt_at - moment
    assert timedelta(minutes=20) <= gaps <= timedelta(hours=1)
    assert smtp_sink.messages == []

    smtp_sink.start()
    back = deliver_due(sessions, channels, stored[0].next_attempt_at)
    assert back.sent == 3
    assert len(smtp_sink.messages) == 3
    assert {m.status for m in rows(sessions)} == {"sent"}
    assert {m.last_error for m in rows(sessions)} == {None}
    assert deliver_due(sessions, channels, moment + timedelta(hours=5)).sent == 0
    assert len(smtp_sink.messages) == 3


def test_a_day_of_failures_is_logged_at_error_and_still_retried(
    sessions: sessionmaker[Session], now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["recorder"], now)
    recorder = Recorder()
    recorder.failing = "connection refused"
    later = now + timedelta(hours=25)

    def levels() -> list[int]:
        return [r.levelno for r in caplog.records if r.levelno >= logging.WARNING]

    with caplog.at_level(logging.WARNING, logger="alerts.claims"):
        caplog.clear()
        deliver_due(sessions, {"recorder": recorder}, now)
        assert levels() == [logging.WARNING]
        caplog.clear()
        deliver_due(sessions, {"recorder": recorder}, later)
        assert levels() == [logging.ERROR]
    [message] = rows(sessions)
    assert message.status == "pending"
    recorder.failing = None
    assert deliver_due(sessions, {"recorder": recorder}, later + MAX_DELAY).sent == 1


def test_slack_429_waits_for_retry_after_and_errors_hide_the_webhook(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["slack"], now)
    channels: dict[str, Channel] = {"slack": slack_channel(slack_hook)}
    slack_hook.fail(429, retry_after="600")
    deliver_due(sessions, channels, now)
    [message] = rows(sessions)
    assert message.next_attempt_at >= now + timedelta(seconds=600)
    assert deliver_due(sessions, channels, now + timedelta(seconds=300)).sent == 0

    slack_hook.stop()
    deliver_due(sessions, channels, message.next_attempt_at)
    [message] = rows(sessions)
    assert "cannot reach the Slack webhook" in (message.last_error or "")
    assert SLACK_TOKEN_PATH not in (message.last_error or "")
    assert "sEcReT" not in (message.last_error or "")


def next_due(sessions: sessionmaker[Session]) -> datetime | None:
    """When the next pending message is due (None when nothing is pending)."""
    pending = [m.next_attempt_at for m in rows(sessions) if m.status == "pending"]
    return min(pending, default=None)


def deliver_until_settled(
    sessions: sessionmaker[Session],
    channels: dict[str, Channel],
    start: datetime,
    horizon: timedelta = timedelta(hours=12),
) -> int:
    """Delivery passes, each at the time the next message is due (the service's clock,
    simulated); returns how many passes ran before nothing was pending or ``horizon``."""
    moment: datetime | None = start
    passes = 0
    while moment is not None and moment <= start + horizon:
        deliver_due(sessions, channels, moment, rng=random.Random(passes))
        passes += 1
        moment = next_due(sessions)
    return passes


def test_one_rejected_email_fails_after_a_few_tries_and_never_holds_back_the_others(
    sessions: sessionmaker[Session],
    now: datetime,
    smtp_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(3)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["email"], now)
    rejected, *others = [f"{episode}:open:email" for episode in episodes]
    smtp_sink.script(rejected, *["554 5.7.1 Message refused as spam"] * 50)
    channels: dict[str, Channel] = {"email": email_channel(smtp_sink)}

    first = deliver_due(sessions, channels, now)
    # The neighbours go out in the same pass: a rejection is about one message only.
    assert [m["X-Mediawatch-Ref"] for m in smtp_sink.messages] == others
    assert first.sent == 2
    with caplog.at_level(logging.WARNING, logger="alerts"):
        deliver_until_settled(sessions, channels, now)

    tries = [ref for ref, _ in smtp_sink.answered if ref == rejected]
    assert 1 <= len(tries) <= 3
    assert [m["X-Mediawatch-Ref"] for m in smtp_sink.messages] == others
    by_key = {m.idempotency_key: m for m in rows(sessions)}
    assert by_key[rejected].status == "failed"
    assert "554" in (by_key[rejected].last_error or "")
    assert {by_key[key].status for key in others} == {"sent"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and rejected in errors[0].getMessage()


def test_one_rejected_slack_message_fails_and_the_others_are_delivered(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(3)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["slack"], now)
    rejected, *others = [f"{episode}:open:slack" for episode in episodes]
    slack_hook.script(rejected, *[Scripted(400)] * 50)
    deliver_until_settled(sessions, {"slack": slack_channel(slack_hook)}, now)
    assert sorted(ref for ref in slack_hook.accepted_refs() if ref) == sorted(others)
    assert 1 <= len([ref for ref, _ in slack_hook.answered if ref == rejected]) <= 3
    by_key = {m.idempotency_key: m for m in rows(sessions)}
    assert (by_key[rejected].status, "answered 400" in (by_key[rejected].last_error or "")) == (
        "failed",
        True,
    )


def test_a_message_that_keeps_failing_does_not_starve_its_neighbours(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook
) -> None:
    """A 5xx looks like an outage, so the channel waits; but the message that failed
    goes to the back of the line, so the others are tried first on the next pass."""
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(3)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["slack"], now)
    failing, *others = [f"{episode}:open:slack" for episode in episodes]
    slack_hook.script(failing, *[Scripted(503)] * 50)
    channels: dict[str, Channel] = {"slack": slack_channel(slack_hook)}
    for _ in range(2):
        deliver_due(sessions, channels, next_due(sessions) or now)
    assert sorted(ref for ref in slack_hook.accepted_refs() if ref) == sorted(others)
    [pending] = [m for m in rows(sessions) if m.status == "pending"]
    assert pending.idempotency_key == failing


RETRY_AFTERS = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-5",
    "0",
    "1e20",
    "1000000000000",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 99999999999 23:59:59 GMT",
    "soon",
    "",
]


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_any_retry_after_from_slack_is_a_bounded_wait_never_a_stuck_message(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook, retry_after: str
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["slack"], now)
    channels: dict[str, Channel] = {"slack": slack_channel(slack_hook)}
    slack_hook.script(f"{episode}:open:slack", Scripted(429, retry_after))
    report = deliver_due(sessions, channels, now)
    assert report.retrying == 1
    [message] = rows(sessions)
    assert message.status == "pending"
    assert now < message.next_attempt_at <= now + MAX_DELAY
    assert deliver_due(sessions, channels, message.next_attempt_at).sent == 1
    assert [m.status for m in rows(sessions)] == ["sent"]


def test_a_channel_removed_from_the_config_fails_permanently(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["gone", "recorder"], now)
    recorder = Recorder()
    report = deliver_due(sessions, {"recorder": recorder}, now)
    assert (report.sent, report.failed) == (1, 1)
    by_channel = {m.channel: m for m in rows(sessions)}
    assert by_channel["gone"].status == "failed"
    assert "not in the config" in (by_channel["gone"].last_error or "")
    assert deliver_due(sessions, {"recorder": recorder}, now + timedelta(days=1)).failed == 0


def test_an_unexpected_exception_is_retried_without_its_message(
    sessions: sessionmaker[Session], now: datetime
) -> None:
    class Broken:
        name = "broken"

        def send(self, alert: Alert, idempotency_key: str) -> None:
            raise RuntimeError("https://user:topsecret@hooks.example/x exploded")

    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["broken"], now)
    report = deliver_due(sessions, {"broken": Broken()}, now)
    assert report.retrying == 1
    [message] = rows(sessions)
    assert message.status == "pending"
    assert message.last_error == "channel broken failed unexpectedly: RuntimeError"


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


def test_idempotency_key_for_alerts_without_an_episode(now: datetime) -> None:
    alert = Alert(
        kind="digest",
        cluster="all",
        bucket_start=datetime(2026, 11, 20),
        bucket_end=datetime(2026, 11, 21),
        observed=0,
        expected=0,
        tail_probability=1,
        sources=0,
    )
    assert idempotency_key(alert, "email") == "digest:all:2026-11-20T00:00:email"
    long = Alert(**{**alert.__dict__, "cluster": "x" * 400})
    assert len(idempotency_key(long, "email")) <= 300


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


def test_apprise_retries_only_the_url_that_failed(
    sessions: sessionmaker[Session], now: datetime, slack_hook: SlackHook
) -> None:
    other = SlackHook()
    other.start()
    try:
        environ = {"TEST_APPRISE_URLS": f"{slack_hook.apprise_url}, {other.apprise_url}"}
        alerts = AlertsConfig.model_validate(
            {"channels": [{"type": "apprise", "urls_env": "TEST_APPRISE_URLS"}]}
        )
        names = delivery_names(alerts, environ)
        assert names == ["apprise#1", "apprise#2"]
        with transaction(sessions) as session:
            enqueue(session, make_alert(new_episode(sessions, now), now), names, now)
        channels = build_channels(alerts, environ)
        other.fail(500)

        first = deliver_due(sessions, channels, now)
        assert (first.sent, first.retrying) == (1, 1)
        assert "#2" in first.errors["apprise#2"] and "127.0.0.1" not in first.errors["apprise#2"]
        second = deliver_due(sessions, channels, now + MAX_DELAY)
        assert (second.sent, second.retrying) == (1, 0)

        assert len(slack_hook.requests) == 1  # the working service got it once
        assert len(other.accepted) == 1 and len(other.requests) == 2
        assert {(m.channel, m.status) for m in rows(sessions)} == {
            ("apprise#1", "sent"),
            ("apprise#2", "sent"),
        }
    finally:
        other.stop()


def test_apprise_delivery_names_and_resolution() -> None:
    alerts = AlertsConfig.model_validate(
        {
            "channels": [
                {"type": "apprise", "name": "ops", "urls_env": "OPS_URLS"},
                {"type": "console"},
            ]
        }
    )
    assert delivery_names(alerts, {}) == ["ops", "console"]  # unset: one message, all URLs
    assert delivery_names(alerts, {"OPS_URLS": "json://a.example"}) == ["ops", "console"]
    channels = build_channels(alerts, {"OPS_URLS": "json://a json://b json://c"})
    assert delivery_names(alerts, {"OPS_URLS": "json://a json://b json://c"}) == [
        "ops#1",
        "ops#2",
        "ops#3",
        "console",
    ]
    assert resolve_channel(channels, "ops") is channels["ops"]
    part = resolve_channel(channels, "ops#3")
    assert part is not None and part.name == "ops#3"
    assert resolve_channel(channels, "console#1") is None
    assert resolve_channel(channels, "ops#x") is None
    assert resolve_channel(channels, "gone") is None


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
