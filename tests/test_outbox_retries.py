"""The outbox when delivery fails: backoff and its cap, Retry-After, rejected messages,
channels gone from the config, and nothing lost or held back meanwhile."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

import pytest
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
from support.slack_hook import SLACK_TOKEN_PATH, Scripted, SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import Channel
from alerts.message import Alert
from alerts.outbox import MAX_DELAY, deliver_due, enqueue, retry_delay
from storage.engine import transaction

# -- the retry policy -------------------------------------------------------------------


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 12)]
    assert timedelta(seconds=24) <= delays[0] <= timedelta(seconds=30)
    assert timedelta(seconds=48) <= delays[1] <= timedelta(seconds=60)
    assert all(delay <= MAX_DELAY for delay in delays)
    assert delays[-1] >= MAX_DELAY * 0.8
    assert retry_delay(10_000) <= MAX_DELAY


# -- failing and retrying ---------------------------------------------------------------


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
