"""The webhook channel against a real receiver on loopback that checks every signature:
signed JSON, tampering and replay refused, 4xx/5xx/429 sorted, and through the outbox an
alert that arrives exactly once after the receiver was down."""

from __future__ import annotations

import io
import json
import logging
import math
import random
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker
from support.channel_alert import ALERT
from support.outbox_fixtures import make_alert, new_episode, rows, sessions_fixture  # noqa: F401
from support.webhook_receiver import (  # noqa: F401
    HOOK_PATH,
    SECRET,
    TOLERANCE,
    Receiver,
    receiver_fixture,
    verify,
)

from alerts.channels import WebhookChannel, build_channels
from alerts.channels.base import MessageRejectedError, RateLimitedError
from alerts.channels.webhook import encode, payload, signature
from alerts.claims import REJECTED_TRIES
from alerts.message import Alert, Headline
from alerts.outbox import deliver_due, enqueue
from config.channels import AlertsConfig, WebhookChannelConfig
from config.load import parse_config
from errors import ConfigError, DeliveryError
from logs.configure import configure_logging, mask_secrets
from storage.engine import transaction

slow = pytest.mark.slow  # a real server on loopback


def webhook(
    receiver: Receiver, secret: str | None = SECRET, timeout: float = 5, **options: Any
) -> WebhookChannel:
    environ = {"MW_HOOK_URL": receiver.url}
    config: dict[str, Any] = {"type": "webhook", "url_env": "MW_HOOK_URL"}
    if secret is not None:
        environ["MW_HOOK_SECRET"] = secret
        config["secret_env"] = "MW_HOOK_SECRET"
    channel = WebhookChannelConfig.model_validate(config)
    return WebhookChannel(channel, environ=environ, timeout=timeout, **options)


# -- the message -------------------------------------------------------------------------


@slow
def test_the_alert_arrives_as_signed_json(receiver: Receiver) -> None:
    webhook(receiver).send(ALERT, "7:open:webhook")
    [delivery] = receiver.accepted
    assert delivery.headers["content-type"] == "application/json; charset=utf-8"
    assert delivery.id == "7:open:webhook"
    body = delivery.json()
    assert body["id"] == "7:open:webhook"
    assert (body["kind"], body["episode_id"], body["cluster"]) == ("open", 7, "Interior Ministry")
    assert body["window"] == {"start": "2026-11-20T09:00:00Z", "end": "2026-11-20T10:00:00Z"}
    assert (body["observed"], body["expected"], body["sources"]) == (23, 2.1, 9)
    assert body["tail_probability"] == 2e-5
    assert body["score"] == pytest.approx(4.7, abs=0.01)
    assert body["unusual"] == "about 1 in 50,000 under the usual pattern"
    assert body["languages"] == ["en", "ar"]
    first, hostile = body["headlines"]
    assert first == {
        "title": "PMF pushes for the ministry",
        "url": "https://rudaw.example/1",
        "publisher": "Rudaw",
        "published_at": None,
    }
    assert hostile["title"] == "<script>alert(1)</script>"  # data, for the receiver to escape
    assert hostile["url"] is None  # a javascript: link is never passed on as a link
    assert body["text"].startswith("Spike: Interior Ministry, 23 stories (usually 2.1)")
    assert "mediawatch report --by hour" in body["text"]


@slow
def test_a_tampered_body_or_a_wrong_secret_fails_verification(receiver: Receiver) -> None:
    webhook(receiver).send(ALERT, "7:open:webhook")
    [delivery] = receiver.accepted
    tampered = delivery.body.replace(b'"observed":23', b'"observed":99')
    assert tampered != delivery.body
    assert verify(SECRET, delivery.headers, delivery.body, time.time()) is None
    assert verify(SECRET, delivery.headers, tampered, time.time()) == "bad signature"
    # Replayed to the receiver with the body changed: refused.
    request = urllib.request.Request(
        receiver.url, data=tampered, headers=delivery.headers, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    refused.value.close()
    with pytest.raises(MessageRejectedError, match="answered 401"):
        webhook(receiver, secret="not-the-receivers-secret").send(ALERT, "7:open:webhook")
    assert receiver.refused == ["bad signature", "bad signature"]
    assert len(receiver.accepted) == 1


@slow
def test_readmes_receiver_recipe_verifies_a_real_delivery(receiver: Receiver) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    recipe = readme.split("**Webhooks.**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(recipe, namespace)
    webhook(receiver).send(ALERT, "7:open:webhook")
    [delivery] = receiver.accepted
    headers = {
        "X-Mediawatch-Timestamp": delivery.headers["x-mediawatch-timestamp"],
        "X-Mediawatch-Signature": delivery.headers["x-mediawatch-signature"],
    }
    from_mediawatch = namespace["from_mediawatch"]
    assert from_mediawatch(SECRET.encode(), headers, delivery.body)
    assert not from_mediawatch(SECRET.encode(), headers, delivery.body + b" ")
    assert not from_mediawatch(b"another secret", headers, delivery.body)


@slow
def test_a_stale_timestamp_is_refused_as_a_replay(receiver: Receiver) -> None:
    late = webhook(receiver, clock=lambda: time.time() - TOLERANCE - 60)
    with pytest.raises(MessageRejectedError):
        late.send(ALERT, "7:open:webhook")
    assert receiver.refused == ["stale timestamp"]
    assert receiver.accepted == []


@slow
def test_without_a_secret_the_post_is_unsigned_but_timestamped() -> None:
    receiver = Receiver(secret=None)
    receiver.start()
    try:
        webhook(receiver, secret=None).send(ALERT, "7:open:webhook")
    finally:
        receiver.stop()
    [delivery] = receiver.accepted
    assert "x-mediawatch-signature" not in delivery.headers
    assert delivery.headers["x-mediawatch-timestamp"].isdigit()


# -- answers and failures ----------------------------------------------------------------


@slow
@pytest.mark.parametrize(
    ("status", "rejected"),
    [(400, True), (403, True), (404, True), (410, True), (408, False), (500, False), (503, False)],
)
def test_a_4xx_rejects_the_message_and_a_5xx_is_an_outage(
    receiver: Receiver, status: int, rejected: bool
) -> None:
    receiver.answer(status)
    with pytest.raises(DeliveryError, match=f"webhook webhook answered {status}") as caught:
        webhook(receiver).send(ALERT, "7:open:webhook")
    assert isinstance(caught.value, MessageRejectedError) is rejected
    assert "Tok3n" not in str(caught.value)


@slow
def test_429_asks_for_the_pause_in_retry_after(receiver: Receiver) -> None:
    receiver.answer(429, retry_after="120")
    with pytest.raises(RateLimitedError, match="retry after 120s") as caught:
        webhook(receiver).send(ALERT, "7:open:webhook")
    assert caught.value.retry_after == 120


@slow
def test_a_receiver_that_is_down_or_silent_is_an_outage_without_the_url(
    receiver: Receiver,
) -> None:
    channel = webhook(receiver, timeout=0.5)
    receiver.stop()
    with pytest.raises(DeliveryError, match="cannot reach the webhook webhook") as caught:
        channel.send(ALERT, "7:open:webhook")
    assert not isinstance(caught.value, MessageRejectedError)
    assert HOOK_PATH not in str(caught.value) and "Tok3n" not in str(caught.value)


def test_missing_variables_are_named_never_sent_unsigned() -> None:
    config = WebhookChannelConfig(type="webhook", url_env="NO_URL", secret_env="NO_SECRET")
    with pytest.raises(DeliveryError, match="NO_URL"):
        WebhookChannel(config, environ={}).send(ALERT, "7:open:webhook")
    with pytest.raises(DeliveryError, match="NO_SECRET"):
        WebhookChannel(config, environ={"NO_URL": "http://127.0.0.1:9/"}).send(ALERT, "k")
    with pytest.raises(DeliveryError, match="NO_URL does not hold an http"):
        WebhookChannel(config, environ={"NO_URL": "ftp://x", "NO_SECRET": "s3cr3t"}).send(
            ALERT, "k"
        )


# -- through the outbox ------------------------------------------------------------------


@slow
def test_after_an_outage_each_alert_arrives_exactly_once(
    sessions: sessionmaker[Session], now: datetime, receiver: Receiver
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(2)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["hook"], now)
            enqueue(session, make_alert(episode, now), ["hook"], now)  # a second detect run
        enqueue(session, make_alert(episodes[0], now, kind="update"), ["hook"], now)
    channels = {"hook": webhook(receiver)}
    receiver.stop()

    down = deliver_due(sessions, channels, now, rng=random.Random(1))
    assert (down.sent, down.retrying, down.deferred) == (0, 1, 2)
    assert "cannot reach the webhook" in down.errors["hook"]
    assert "Tok3n" not in down.errors["hook"]
    later = min(message.next_attempt_at for message in rows(sessions))
    assert deliver_due(sessions, channels, later - timedelta(seconds=1)).sent == 0

    receiver.start()  # back, on the same port
    assert deliver_due(sessions, channels, later).sent == 3
    for moment in (later + timedelta(hours=1), later + timedelta(days=2)):
        assert deliver_due(sessions, channels, moment).sent == 0
    expected = [
        f"{episodes[0]}:open:hook",
        f"{episodes[0]}:update:hook",
        f"{episodes[1]}:open:hook",
    ]
    assert sorted(receiver.ids()) == sorted(expected)
    assert receiver.refused == []
    assert {message.status for message in rows(sessions)} == {"sent"}


@slow
def test_the_outbox_honours_retry_after_and_retries_a_5xx(
    sessions: sessionmaker[Session], now: datetime, receiver: Receiver
) -> None:
    episode = new_episode(sessions, now)
    with transaction(sessions) as session:
        enqueue(session, make_alert(episode, now), ["hook"], now)
    channels = {"hook": webhook(receiver)}
    receiver.answer(429, retry_after="600")
    receiver.answer(500)
    deliver_due(sessions, channels, now)
    [message] = rows(sessions)
    assert message.status == "pending"
    assert message.next_attempt_at >= now + timedelta(seconds=600)
    assert deliver_due(sessions, channels, now + timedelta(seconds=599)).sent == 0
    second = deliver_due(sessions, channels, message.next_attempt_at)
    assert (second.sent, second.retrying) == (0, 1)
    [message] = rows(sessions)
    assert deliver_due(sessions, channels, message.next_attempt_at).sent == 1
    assert receiver.ids() == [f"{episode}:open:hook"]
    assert len(receiver.posts) == 3  # each try signed anew, each verified


@slow
def test_a_message_refused_with_400_fails_after_the_usual_tries(
    sessions: sessionmaker[Session], now: datetime, receiver: Receiver
) -> None:
    episodes = [new_episode(sessions, now, f"C{i}") for i in range(2)]
    with transaction(sessions) as session:
        for episode in episodes:
            enqueue(session, make_alert(episode, now), ["hook"], now)
    channels = {"hook": webhook(receiver)}
    receiver.refuse(f"{episodes[0]}:open:hook", 400)
    moment = now
    for _ in range(REJECTED_TRIES):
        deliver_due(sessions, channels, moment)
        pending = [m.next_attempt_at for m in rows(sessions) if m.status == "pending"]
        moment = min(pending, default=moment)
    first, second = rows(sessions)
    assert (first.status, first.attempts) == ("failed", REJECTED_TRIES)
    assert "answered 400" in (first.last_error or "")
    assert second.status == "sent"  # the channel works: its other message was not held
    assert receiver.ids() == [f"{episodes[1]}:open:hook"]


# -- config and secrets ------------------------------------------------------------------

CONFIG = {
    "storage": {"url": "sqlite:///:memory:"},
    "alerts": {
        "channels": [
            {"type": "webhook", "name": "hook", "url_env": "MW_URL", "secret_env": "MW_SECRET"}
        ]
    },
}


def test_config_rejects_a_webhook_without_url_env() -> None:
    data = {"alerts": {"channels": [{"type": "webhook", "secret_env": "MW_SECRET"}]}}
    with pytest.raises(ConfigError, match=r"\[alerts\] channels #1 url_env: required key"):
        parse_config(data, environ={})
    minimal = parse_config({"alerts": {"channels": [{"type": "webhook", "url_env": "U"}]}})
    [channel] = minimal.alerts.channels
    assert isinstance(channel, WebhookChannelConfig)
    assert (channel.name, channel.secret_env, channel.mode) == ("webhook", None, "instant")


def test_build_channels_makes_a_webhook_without_its_secrets() -> None:
    channels = build_channels(AlertsConfig.model_validate(CONFIG["alerts"]), environ={})
    assert isinstance(channels["hook"], WebhookChannel)


def test_the_url_and_the_secret_are_masked_in_every_log_line() -> None:
    url = "https://hooks.example.org/in/Tok3nInTheUrl42"
    environ = {"MW_URL": url, "MW_SECRET": SECRET}
    config = parse_config(CONFIG, environ=environ)
    assert {url, SECRET, "Tok3nInTheUrl42"} <= config.secrets(environ)
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", stream=stream)
        mask_secrets(config.secrets(environ))
        logging.getLogger("urllib3").warning("POST %s failed", url)
        logging.getLogger("alerts").info("signing with %s", SECRET)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        mask_secrets(())
    written = stream.getvalue()
    assert "***" in written
    assert "Tok3n" not in written and SECRET not in written


# -- any alert text ----------------------------------------------------------------------

hostile = st.text(st.characters(codec=None, exclude_categories=()), max_size=80) | st.sampled_from(
    ["<script>alert(1)</script>", '"}, "kind": "forged', "\\u0000\\", "\u202e", "\ud800", "\x00"]
)
floats = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cluster=hostile,
    title=hostile,
    url=hostile,
    publisher=hostile,
    command=hostile,
    expected=floats,
    tail=floats,
    stamp=st.integers(min_value=0, max_value=2**40),
)
def test_any_alert_text_makes_valid_json_whose_signature_verifies(
    cluster: str,
    title: str,
    url: str,
    publisher: str,
    command: str,
    expected: float,
    tail: float,
    stamp: int,
) -> None:
    alert = replace(
        ALERT,
        cluster=cluster,
        expected=expected,
        tail_probability=tail,
        headlines=(Headline(title, url, publisher), *ALERT.headlines),
        trend_command=command,
    )
    body = encode(payload(alert, f"7:open:{cluster}"))
    document = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    assert document["kind"] == "open" and document["observed"] == 23
    for value in (document["expected"], document["tail_probability"], document["score"]):
        assert value is None or math.isfinite(value)
    if not any("\ud800" <= c <= "\udfff" for c in cluster):
        assert document["cluster"] == cluster
    headers = {"x-mediawatch-timestamp": str(stamp)}
    headers["x-mediawatch-signature"] = signature(SECRET, stamp, body)
    assert verify(SECRET, headers, body, float(stamp)) is None
    assert verify(SECRET, headers, body + b" ", float(stamp)) == "bad signature"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def test_a_digest_carries_its_episodes(now: datetime) -> None:
    entries = tuple(make_alert(number, now) for number in (3, 4))
    digest = Alert(
        kind="digest",
        cluster="digest",
        bucket_start=now - timedelta(days=1),
        bucket_end=now,
        observed=0,
        expected=0.0,
        tail_probability=1.0,
        sources=0,
        entries=entries,
        extra={"date": "2026-11-20"},
    )
    document = json.loads(encode(payload(digest, "digest:hook:2026-11-20")))
    assert [entry["episode_id"] for entry in document["entries"]] == [3, 4]
    assert document["entries"][0]["headlines"][0]["url"] == "https://a.example/1"
    assert "daily digest" in document["title"]
