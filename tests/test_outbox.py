"""The outbox on SQLite and PostgreSQL: idempotent writes, delivery through each channel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker
from support.outbox_fixtures import (  # noqa: F401
    email_channel,
    make_alert,
    new_episode,
    rows,
    sessions_fixture,
    slack_channel,
)
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import Channel, build_channels, delivery_names, resolve_channel
from alerts.message import Alert
from alerts.outbox import MAX_DELAY, deliver_due, enqueue, idempotency_key
from config.channels import AlertsConfig
from storage.engine import transaction

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
