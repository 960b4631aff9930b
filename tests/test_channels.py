"""Channels against real local peers: aiosmtpd for email, an HTTP server for webhooks."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from slack_hook import SLACK_TOKEN_PATH, SlackHook, slack_hook_fixture  # noqa: F401
from smtp_sink import SMTP_PASSWORD, SMTP_USER, SmtpSink, smtp_sink_fixture, smtp_tls_sink_fixture  # noqa: F401

from alerts.channels import (
    AppriseChannel,
    ConsoleChannel,
    EmailChannel,
    RateLimitedError,
    SlackChannel,
    build_channels,
    scrub,
)
from alerts.channels.email import message_id
from alerts.channels.slack import retry_after_seconds
from alerts.message import Alert, Headline
from mediawatch import config as cfg
from mediawatch.errors import DeliveryError

# apprise 2.x imports the deprecated imghdr module when it loads its plugins.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

ALERT = Alert(
    kind="open",
    cluster="Interior Ministry",
    bucket_start=datetime(2026, 11, 20, 9, 0),
    bucket_end=datetime(2026, 11, 20, 10, 0),
    observed=23,
    expected=2.1,
    tail_probability=2e-5,
    sources=9,
    languages=("en", "ar"),
    headlines=(
        Headline("PMF pushes for the ministry", "https://rudaw.example/1", "Rudaw"),
        Headline("<script>alert(1)</script>", "javascript:alert(1)", "Evil"),
    ),
    episode_id=7,
    trend_command="mediawatch report --by hour --cluster 'Interior Ministry'",
)


def email_config(sink: SmtpSink, **changes: object) -> cfg.EmailChannel:
    values: dict[str, object] = {
        "type": "email",
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "from": "mediawatch@example.org",
        "to": ["analyst@example.org", "desk@example.org"],
        "username": SMTP_USER,
        "password_env": "TEST_SMTP_PASSWORD",
        "timeout": "5s",
    }
    values.update(changes)
    return cfg.EmailChannel.model_validate(values)


# -- email ------------------------------------------------------------------------------


def test_email_arrives_as_text_and_html_with_auth_from_the_environment(
    smtp_sink: SmtpSink,
) -> None:
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    channel.send(ALERT, "7:open:email")
    [received] = smtp_sink.received
    assert received.login == SMTP_USER
    assert received.rcpt_tos == ("analyst@example.org", "desk@example.org")
    message = received.message
    assert message["Subject"] == "Spike: Interior Ministry, 23 stories (usually 2.1)"
    assert message["Message-ID"] == message_id("7:open:email", "mediawatch@example.org")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "about 1 in 50,000 under the usual pattern" in text.get_content()
    assert "&lt;script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()


def test_a_resend_keeps_its_message_id(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    channel.send(ALERT, "7:open:email")
    channel.send(ALERT, "7:open:email")
    first, second = (m["Message-ID"] for m in smtp_sink.messages)
    assert first == second
    assert message_id("7:update:email", "a@b.example") != message_id("7:open:email", "a@b.example")


def test_email_through_starttls(smtp_tls_sink: SmtpSink) -> None:
    channel = EmailChannel(
        email_config(smtp_tls_sink, starttls=True),
        environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD},
        ssl_context=smtp_tls_sink.client_context,
    )
    channel.send(ALERT, "7:open:email")
    [received] = smtp_tls_sink.received
    assert received.tls and received.login == SMTP_USER


def test_starttls_refuses_an_untrusted_certificate(smtp_tls_sink: SmtpSink) -> None:
    channel = EmailChannel(
        email_config(smtp_tls_sink, starttls=True), environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD}
    )
    with pytest.raises(DeliveryError, match="cannot send through SMTP server"):
        channel.send(ALERT, "7:open:email")
    assert smtp_tls_sink.received == []


def test_plain_relay_without_auth(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(email_config(smtp_sink, username=None, password_env=None), environ={})
    channel.send(ALERT, "7:open:email")
    [received] = smtp_sink.received
    assert received.login is None


def test_missing_password_variable_is_named_not_leaked(smtp_sink: SmtpSink) -> None:
    channel = EmailChannel(email_config(smtp_sink), environ={})
    with pytest.raises(DeliveryError, match="TEST_SMTP_PASSWORD") as caught:
        channel.send(ALERT, "7:open:email")
    assert "is not set" in str(caught.value)
    assert smtp_sink.received == []


def test_wrong_password_is_a_clear_error_without_the_password(smtp_sink: SmtpSink) -> None:
    wrong = "wrong-but-secret-9876"
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": wrong})
    with pytest.raises(DeliveryError, match="refused the login") as caught:
        channel.send(ALERT, "7:open:email")
    assert wrong not in str(caught.value)


def test_smtp_server_down_is_a_delivery_error(smtp_sink: SmtpSink) -> None:
    smtp_sink.stop()
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    with pytest.raises(DeliveryError, match=f"{smtp_sink.host}:{smtp_sink.port}"):
        channel.send(ALERT, "7:open:email")


# -- Slack ------------------------------------------------------------------------------


def slack(hook: SlackHook, **environ: str) -> SlackChannel:
    config = cfg.SlackChannel(type="slack", webhook_url_env="TEST_SLACK_URL")
    return SlackChannel(config, environ={"TEST_SLACK_URL": hook.url, **environ}, timeout=5)


def test_slack_gets_block_kit_with_fallback_text(slack_hook: SlackHook) -> None:
    slack(slack_hook).send(ALERT, "7:open:slack")
    assert slack_hook.problems == []
    [payload] = slack_hook.slack_payloads()
    assert payload["text"].startswith("Spike: Interior Ministry")
    assert payload["blocks"][0]["type"] == "header"
    dumped = str(payload)
    assert "<script>" not in dumped and "javascript:" not in dumped


@pytest.mark.parametrize("status", [500, 404, 400])
def test_slack_non_2xx_is_a_failure_without_the_webhook_url(
    slack_hook: SlackHook, status: int
) -> None:
    slack_hook.fail(status)
    with pytest.raises(DeliveryError, match=f"answered {status}") as caught:
        slack(slack_hook).send(ALERT, "7:open:slack")
    assert "sEcReT" not in str(caught.value)
    assert slack_hook.slack_payloads() == []


def test_slack_429_asks_to_retry_later(slack_hook: SlackHook) -> None:
    slack_hook.fail(429, retry_after="120")
    with pytest.raises(RateLimitedError) as caught:
        slack(slack_hook).send(ALERT, "7:open:slack")
    assert caught.value.retry_after == 120
    assert "retry after 120s" in str(caught.value)


def test_retry_after_as_a_date_or_nonsense() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(later, now) == 90
    assert retry_after_seconds("soon") == 60
    assert retry_after_seconds(None) == 60
    assert retry_after_seconds("999999") == 3600


def test_slack_down_does_not_leak_the_url(slack_hook: SlackHook) -> None:
    channel = slack(slack_hook)
    slack_hook.stop()
    with pytest.raises(DeliveryError, match="cannot reach the Slack webhook") as caught:
        channel.send(ALERT, "7:open:slack")
    assert SLACK_TOKEN_PATH not in str(caught.value)


def test_slack_missing_variable_is_named() -> None:
    channel = SlackChannel(cfg.SlackChannel(type="slack", webhook_url_env="NOPE_URL"), environ={})
    with pytest.raises(DeliveryError, match="NOPE_URL"):
        channel.send(ALERT, "7:open:slack")


# -- apprise ----------------------------------------------------------------------------


def test_apprise_json_webhook_reaches_the_local_server(slack_hook: SlackHook) -> None:
    config = cfg.AppriseChannel(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": slack_hook.apprise_url})
    channel.send(ALERT, "7:open:apprise")
    [request] = [r for r in slack_hook.accepted if r.path == "/apprise"]
    body = request.json()
    assert body["title"].startswith("Spike: Interior Ministry")
    assert "about 1 in 50,000" in body["message"]


def test_apprise_failure_is_a_delivery_error_naming_no_url(slack_hook: SlackHook) -> None:
    slack_hook.fail(500)
    secret_url = slack_hook.apprise_url.replace("/apprise", "/apprise?token=hush-hush-123")
    config = cfg.AppriseChannel(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": secret_url})
    with pytest.raises(DeliveryError, match="apprise could not notify") as caught:
        channel.send(ALERT, "7:open:apprise")
    assert "hush-hush" not in str(caught.value)


def test_apprise_rejects_a_url_it_does_not_know() -> None:
    config = cfg.AppriseChannel(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": "nonsense-url-abc"})
    with pytest.raises(DeliveryError, match="URL #1 in environment variable TEST_APPRISE_URLS"):
        channel.send(ALERT, "7:open:apprise")


def test_apprise_per_url_channel_sends_to_its_url_alone(slack_hook: SlackHook) -> None:
    other = SlackHook()
    other.start()
    try:
        config = cfg.AppriseChannel(type="apprise", urls_env="TEST_APPRISE_URLS")
        environ = {"TEST_APPRISE_URLS": f"{slack_hook.apprise_url} {other.apprise_url}"}
        channel = AppriseChannel(config, environ=environ)
        other.fail(500)
        with pytest.raises(DeliveryError, match=r"#2 \(JSON\) \(1 of 1 URLs"):
            channel.only(2).send(ALERT, "7:open:apprise#2")
        assert slack_hook.requests == []  # the working service is not sent it again
        channel.only(1).send(ALERT, "7:open:apprise#1")
        channel.only(2).send(ALERT, "7:open:apprise#2")
        assert len(slack_hook.accepted) == 1 and len(other.accepted) == 1
        assert channel.only(2).name == "apprise#2"
        with pytest.raises(DeliveryError, match="has no URL #3 any more"):
            channel.only(3).send(ALERT, "7:open:apprise#3")
    finally:
        other.stop()


# -- console and the factory ------------------------------------------------------------


def test_console_prints_the_text() -> None:
    stream = io.StringIO()
    ConsoleChannel(cfg.ConsoleChannel(type="console"), stream=stream).send(ALERT, "7:open:console")
    assert "Spike: Interior Ministry" in stream.getvalue()
    assert "ref 7:open:console" in stream.getvalue()


def test_build_channels_never_needs_the_secrets_up_front(caplog) -> None:  # type: ignore[no-untyped-def]
    alerts = cfg.AlertsConfig.model_validate(
        {
            "channels": [
                {"type": "email", "from": "a@b.example", "to": ["c@d.example"]},
                {"type": "slack", "webhook_url_env": "UNSET_SLACK_URL"},
                {"type": "apprise", "urls_env": "UNSET_APPRISE"},
                {"type": "console"},
            ]
        }
    )
    with caplog.at_level(logging.DEBUG):
        channels = build_channels(alerts, environ={})
    assert list(channels) == ["email", "slack", "apprise", "console"]


def test_scrub_removes_secrets_and_the_secret_part_of_urls() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXsecret"
    message = "POST failed: HTTPSConnectionPool(...) url: /services/T000/B000/XXXXsecret"
    assert "XXXXsecret" not in scrub(message, [url])
    assert scrub("login hunter22 refused", ["hunter22"]) == "login *** refused"
    assert "pw123456" not in scrub("smtp://u:pw123456@h failed", ["smtp://u:pw123456@h"])
