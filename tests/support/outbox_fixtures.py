"""What the outbox tests share: an episode and its alert to enqueue, the stored rows, a
recording channel, channels onto the local SMTP sink and Slack hook, and ``sessions``."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.channels import EmailChannel, SlackChannel
from alerts.message import Alert, Headline
from config.channels import EmailChannelConfig, SlackChannelConfig
from errors import DeliveryError
from storage.engine import session_factory, transaction
from storage.models import OutboxMessage
from support.alert_episodes import open_episode
from support.slack_hook import SlackHook
from support.smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink


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


@pytest.fixture(name="sessions")
def sessions_fixture(migrated_engine: Engine) -> sessionmaker[Session]:
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
