"""Routing and mutes, end to end: a burst of stories -> detection -> outbox -> SMTP/Slack."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from support.detect_fixtures import CLUSTER, PUBLISHERS, Newsroom, burst_hour
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import SmtpSink, smtp_sink_fixture  # noqa: F401

from alerts.channels import build_channels
from alerts.detect import run_detection
from alerts.mutes import mute, unmute
from alerts.outbox import deliver_due
from config.load import parse_config
from config.models import Config
from storage.engine import session_factory, transaction
from storage.models import AlertEpisode, OutboxMessage

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


def routed_config(smtp_sink: SmtpSink, slack_hook: SlackHook, channels: list[str] | None) -> Config:
    cluster: dict[str, object] = {"name": CLUSTER, "terms": ["Interior Ministry"]}
    if channels is not None:
        cluster["channels"] = channels
    return parse_config(
        {
            "clusters": [cluster, {"name": "PMF", "terms": ["Popular Mobilization Forces"]}],
            "alerts": {
                "channels": [
                    {
                        "type": "email",
                        "smtp_host": "127.0.0.1",
                        "smtp_port": smtp_sink.port,
                        "from": "mediawatch@example.org",
                        "to": ["desk@example.org"],
                        "timeout": "5s",
                    },
                    {"type": "slack", "name": "slack-ops", "webhook_url_env": "MW_SLACK"},
                ]
            },
        },
        environ={},
    )


@pytest.fixture
def burst(migrated_engine: Engine, now: datetime) -> Newsroom:
    """Sixteen days of ordinary coverage, then sixteen stories in the last hour."""
    room = Newsroom(migrated_engine)
    room.background(now, days=16)
    for i in range(16):
        room.story(burst_hour(now) + timedelta(minutes=3 * i), PUBLISHERS[i % 4])
    return room


def detect_and_deliver(
    engine: Engine, config: Config, slack_hook: SlackHook, now: datetime
) -> list[OutboxMessage]:
    with transaction(session_factory(engine)) as session:
        run_detection(session, config, now)
    deliver_due(
        session_factory(engine), build_channels(config.alerts, {"MW_SLACK": slack_hook.url}), now
    )
    with session_factory(engine)() as session:
        return list(session.scalars(select(OutboxMessage)))


def test_a_cluster_routed_to_slack_alerts_slack_only(
    migrated_engine: Engine,
    burst: Newsroom,
    now: datetime,
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
) -> None:
    config = routed_config(smtp_sink, slack_hook, ["slack-ops"])
    rows = detect_and_deliver(migrated_engine, config, slack_hook, now)
    assert [(row.channel, row.status) for row in rows] == [("slack-ops", "sent")]
    [payload] = slack_hook.slack_payloads()
    assert CLUSTER in payload["text"]
    assert smtp_sink.messages == []


def test_a_cluster_without_channels_alerts_every_channel(
    migrated_engine: Engine,
    burst: Newsroom,
    now: datetime,
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
) -> None:
    config = routed_config(smtp_sink, slack_hook, None)
    rows = detect_and_deliver(migrated_engine, config, slack_hook, now)
    assert sorted(row.channel for row in rows) == ["email", "slack-ops"]
    assert len(smtp_sink.messages) == 1 and len(slack_hook.slack_payloads()) == 1


def test_a_muted_cluster_opens_its_episode_but_sends_nothing(
    migrated_engine: Engine,
    burst: Newsroom,
    now: datetime,
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
) -> None:
    config = routed_config(smtp_sink, slack_hook, None)
    with transaction(session_factory(migrated_engine)) as session:
        mute(session, CLUSTER, timedelta(hours=24), now - timedelta(hours=2))
    assert detect_and_deliver(migrated_engine, config, slack_hook, now) == []
    # Later runs (the mute still on, then over) never send the muted episode.
    assert (
        detect_and_deliver(migrated_engine, config, slack_hook, now + timedelta(minutes=30)) == []
    )
    with transaction(session_factory(migrated_engine)) as session:
        unmute(session, CLUSTER)
    assert (
        detect_and_deliver(migrated_engine, config, slack_hook, now + timedelta(minutes=40)) == []
    )
    assert smtp_sink.messages == [] and slack_hook.slack_payloads() == []
    with session_factory(migrated_engine)() as session:
        [episode] = session.scalars(select(AlertEpisode))
    assert episode.cluster == CLUSTER and episode.muted


def test_a_mute_that_has_expired_no_longer_holds_alerts_back(
    migrated_engine: Engine,
    burst: Newsroom,
    now: datetime,
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
) -> None:
    config = routed_config(smtp_sink, slack_hook, None)
    with transaction(session_factory(migrated_engine)) as session:
        mute(session, CLUSTER, timedelta(hours=24), now - timedelta(hours=25))
    rows = detect_and_deliver(migrated_engine, config, slack_hook, now)
    assert sorted((row.channel, row.status) for row in rows) == [
        ("email", "sent"),
        ("slack-ops", "sent"),
    ]
    assert len(smtp_sink.messages) == 1 and len(slack_hook.slack_payloads()) == 1


def test_an_unmuted_cluster_alerts_again(
    migrated_engine: Engine,
    burst: Newsroom,
    now: datetime,
    smtp_sink: SmtpSink,
    slack_hook: SlackHook,
) -> None:
    config = routed_config(smtp_sink, slack_hook, ["slack-ops"])
    with transaction(session_factory(migrated_engine)) as session:
        mute(session, CLUSTER, timedelta(days=7), now - timedelta(hours=2))
    with transaction(session_factory(migrated_engine)) as session:
        assert unmute(session, CLUSTER)
    rows = detect_and_deliver(migrated_engine, config, slack_hook, now)
    assert [(row.channel, row.status) for row in rows] == [("slack-ops", "sent")]
    assert len(slack_hook.slack_payloads()) == 1
