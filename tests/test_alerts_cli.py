"""``alerts test``, ``alerts deliver`` and ``alerts list`` against local SMTP and Slack peers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from support.alert_episodes import episode_alert, open_episode
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.claims import REJECTED_TRIES
from alerts.outbox import enqueue
from clock.moments import utcnow
from config.load import load_config
from scheduler.service import Service
from storage.engine import make_engine, session_factory, transaction
from storage.models import OutboxMessage

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

CONFIG = """
[storage]
url = "{{db}}"

[[alerts.channels]]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
from = "mediawatch@example.org"
to = ["analyst@example.org"]
username = "{user}"
password_env = "MW_TEST_SMTP_PASSWORD"
timeout = "5s"

[[alerts.channels]]
type = "slack"
webhook_url_env = "MW_TEST_SLACK_URL"
"""


@pytest.fixture
def config_path(write_config, smtp_sink: SmtpSink, slack_hook: SlackHook, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("MW_TEST_SLACK_URL", slack_hook.url)
    return str(write_config(CONFIG.format(port=smtp_sink.port, user=SMTP_USER)))


def test_alerts_test_goes_through_email_and_slack(
    cli, config_path: str, smtp_sink: SmtpSink, slack_hook: SlackHook
) -> None:
    result = cli("--config", config_path, "alerts", "test")
    assert result.code == 0, result
    assert result.out.splitlines() == ["email: OK", "slack: OK"]
    [message] = smtp_sink.messages
    assert message["Subject"] == "mediawatch test message"
    [payload] = slack_hook.slack_payloads()
    assert "test message" in payload["text"]
    assert slack_hook.problems == []
    for secret in (SMTP_PASSWORD, slack_hook.url, "sEcReT"):
        assert secret not in result.out + result.err


def test_alerts_test_reports_each_failure_and_exits_1(
    cli, config_path: str, smtp_sink: SmtpSink, slack_hook: SlackHook, monkeypatch
) -> None:
    monkeypatch.delenv("MW_TEST_SMTP_PASSWORD")
    slack_hook.stop()
    result = cli("--config", config_path, "alerts", "test")
    assert result.code == 1, result
    email, slack = result.out.splitlines()
    assert email == (
        "email: FAILED: environment variable MW_TEST_SMTP_PASSWORD (the SMTP password) is not set"
    )
    assert slack.startswith("slack: FAILED: cannot reach the Slack webhook slack")
    assert "sEcReT" not in result.out + result.err
    assert str(slack_hook.port) not in result.out


def test_alerts_test_with_a_wrong_password_does_not_print_it(
    cli, config_path: str, monkeypatch
) -> None:
    monkeypatch.setenv("MW_TEST_SMTP_PASSWORD", "not-the-password-42")
    result = cli("--config", config_path, "alerts", "test", "--channel", "email")
    assert result.code == 1, result
    assert "refused the login" in result.out
    assert "not-the-password-42" not in result.out + result.err


def test_alerts_test_without_channels(cli, write_config) -> None:
    result = cli("--config", str(write_config('[storage]\nurl = "{db}"\n')), "alerts", "test")
    assert result.code == 1
    assert "no alert channels configured" in result.err


def test_deliver_then_list_shows_the_delivery_per_channel(
    cli, config_path: str, sqlite_url: str, smtp_sink: SmtpSink, slack_hook: SlackHook
) -> None:
    assert cli("--config", config_path, "init").code == 0
    now = utcnow()
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        episode = open_episode(session, "Interior Ministry", now - timedelta(minutes=5))
        alert = episode_alert(episode)
        enqueue(session, alert, ["email", "slack"], now - timedelta(minutes=5))
    engine.dispose()

    before = json.loads(cli("--config", config_path, "alerts", "list", "--format", "json").out)
    assert before[0]["delivery"] == "email pending, slack pending"

    slack_hook.fail(500)
    first = cli("--config", config_path, "alerts", "deliver")
    assert first.code == 0, first
    assert "1 sent, 1 to retry" in first.out
    assert "slack: Slack webhook slack answered 500" in first.out

    listed = json.loads(cli("--config", config_path, "alerts", "list", "--format", "json").out)
    assert listed[0]["cluster"] == "Interior Ministry"
    assert listed[0]["delivery"] == "email sent, slack pending (1 try)"
    assert "answered 500" in listed[0]["errors"]
    assert len(smtp_sink.messages) == 1
    assert "sEcReT" not in json.dumps(listed)


def queue_alert(db_url: str, channels: list[str]) -> int:
    """An open episode with its alert queued for ``channels``; the episode id."""
    now = utcnow()
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        episode = open_episode(session, "Interior Ministry", now - timedelta(minutes=5))
        alert = episode_alert(episode)
        enqueue(session, alert, channels, now - timedelta(minutes=5))
        episode_id = episode.id
    engine.dispose()
    return episode_id


def time_passes(db_url: str) -> None:
    """The retry time of every pending message has come (instead of waiting for it)."""
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    engine.dispose()


def test_a_rejected_email_is_failed_visibly_and_slack_still_delivers(
    cli, config_path: str, sqlite_url: str, smtp_sink: SmtpSink, slack_hook: SlackHook
) -> None:
    assert cli("--config", config_path, "init").code == 0
    episode = queue_alert(sqlite_url, ["email", "slack"])
    smtp_sink.script(f"{episode}:open:email", *["554 5.7.1 Message refused as spam"] * 10)

    outputs = []
    for _ in range(REJECTED_TRIES):
        result = cli("--config", config_path, "alerts", "deliver")
        assert result.code == 0, result
        outputs.append(result.out)
        time_passes(sqlite_url)
    assert outputs[0].startswith("outbox: 1 sent, 1 to retry, 0 failed")
    assert outputs[-1].startswith("outbox: 0 sent, 0 to retry, 1 failed")
    assert f"FAILED {episode}:open:email" in outputs[-1] and "554" in outputs[-1]
    assert len(slack_hook.slack_payloads()) == 1 and smtp_sink.messages == []

    listed = json.loads(cli("--config", config_path, "alerts", "list", "--format", "json").out)
    assert listed[0]["delivery"] == f"email failed ({REJECTED_TRIES} tries), slack sent"
    assert "554 5.7.1 Message refused as spam" in listed[0]["errors"]
    again = cli("--config", config_path, "alerts", "deliver")
    assert again.out.startswith("outbox: 0 sent, 0 to retry, 0 failed")
    assert len([ref for ref, _ in smtp_sink.answered]) == REJECTED_TRIES


def test_the_service_counts_failed_alerts_in_its_metrics(
    config_path: str, cli, sqlite_url: str, smtp_sink: SmtpSink
) -> None:
    assert cli("--config", config_path, "init").code == 0
    episode = queue_alert(sqlite_url, ["email", "slack"])
    smtp_sink.script(f"{episode}:open:email", *["550 5.1.1 No such mailbox"] * 10)
    config = load_config(config_path)
    engine = make_engine(sqlite_url)
    moment = [utcnow()]
    service = Service(config, Path(config_path), engine, clock=lambda: moment[0])
    try:
        for _ in range(REJECTED_TRIES):
            service.deliver()
            moment[0] += timedelta(hours=2)
    finally:
        engine.dispose()
    metrics = service.metrics.render().decode()
    assert "mediawatch_alerts_failed_total 1.0" in metrics
    assert "mediawatch_alerts_sent_total 1.0" in metrics


ROUTED = """
[storage]
url = "{{db}}"

[alerts]
timezone = "Europe/Berlin"

[[alerts.channels]]
type = "email"
mode = "digest"
at = "07:00"
smtp_host = "127.0.0.1"
smtp_port = {port}
from = "mediawatch@example.org"
to = ["analyst@example.org"]
username = "{user}"
password_env = "MW_TEST_SMTP_PASSWORD"
timeout = "5s"

[[alerts.channels]]
type = "slack"
name = "slack-ops"
webhook_url_env = "MW_TEST_SLACK_URL"

[[clusters]]
name = "Interior Ministry"
terms = ["Interior Ministry"]
channels = ["slack-ops"]
"""


def test_alerts_test_still_tests_every_channel_whatever_the_routing(
    cli, write_config, smtp_sink: SmtpSink, slack_hook: SlackHook, monkeypatch
) -> None:
    monkeypatch.setenv("MW_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("MW_TEST_SLACK_URL", slack_hook.url)
    path = str(write_config(ROUTED.format(port=smtp_sink.port, user=SMTP_USER)))
    result = cli("--config", path, "alerts", "test")
    assert result.code == 0, result
    assert result.out.splitlines() == ["email: OK", "slack-ops: OK"]
    assert len(smtp_sink.messages) == 1 and len(slack_hook.slack_payloads()) == 1
