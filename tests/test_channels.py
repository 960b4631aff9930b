"""Channels against real local peers: aiosmtpd for email, an HTTP server for webhooks."""

from __future__ import annotations

import io
import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.slack_hook import DROP, HANG, SLACK_TOKEN_PATH, Scripted, SlackHook, slack_hook_fixture  # noqa: F401
from support.smtp_sink import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpSink,
    smtp_sink_fixture,
    smtp_tls_sink_fixture,
)

from alerts.channels import (
    AppriseChannel,
    ConsoleChannel,
    EmailChannel,
    RateLimitedError,
    SlackChannel,
    build_channels,
    scrub,
)
from alerts.channels.base import MessageRejectedError
from alerts.channels.email import message_id
from alerts.channels.slack import retry_after_seconds
from alerts.message import Alert, Headline
from config.channels import (
    AlertsConfig,
    AppriseChannelConfig,
    ConsoleChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
)
from errors import DeliveryError

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


def email_config(sink: SmtpSink, **changes: object) -> EmailChannelConfig:
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
    return EmailChannelConfig.model_validate(values)


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
    config = SlackChannelConfig(type="slack", webhook_url_env="TEST_SLACK_URL")
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


MAX_RETRY_AFTER = 3600.0
HTTP_DATE_LIKE = r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{1,25} \d{1,3}:\d\d:\d\d [+-]?\d{1,6}"


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.floats().map(repr),
        st.sampled_from(["nan", "NaN", "-nan", "inf", "-Infinity", "1e400", "-0", " 12 "]),
        st.integers().map(str),
        st.datetimes(timezones=st.timezones()).map(lambda moment: format_datetime(moment)),
        st.datetimes().map(lambda moment: format_datetime(moment, usegmt=False)),
        st.from_regex(HTTP_DATE_LIKE, fullmatch=True),
    )
)
@example("nan")
@example("Fri, 31 Dec 99999999999 23:59:59 GMT")
def test_any_retry_after_header_is_a_finite_bounded_delay(value: str) -> None:
    """A server's header is data: whatever it says, the wait is 1 s to 1 h, never a crash."""
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    seconds = retry_after_seconds(value, now)
    assert math.isfinite(seconds)
    assert 1.0 <= seconds <= MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nan", 60.0),
        ("inf", MAX_RETRY_AFTER),
        ("-5", 1.0),
        ("1e20", MAX_RETRY_AFTER),
        ("1000000000000", MAX_RETRY_AFTER),
        ("Mon, 01 Jan 0001 00:00:00 +0100", 1.0),
        ("Fri, 31 Dec 9999 23:59:59 -0100", MAX_RETRY_AFTER),
    ],
)
def test_hostile_retry_after_values(value: str, expected: float) -> None:
    assert retry_after_seconds(value, datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize(
    ("reply", "rejected"),
    [
        ("554 5.7.1 Message refused as spam", True),
        ("552 5.3.4 Message too big", True),
        ("550 5.1.1 Mailbox unavailable", True),
        ("451 4.7.1 Greylisted, try again later", False),
        ("421 4.3.2 Service shutting down", False),
    ],
)
def test_an_smtp_5xx_rejects_the_message_and_a_4xx_is_temporary(
    smtp_sink: SmtpSink, reply: str, rejected: bool
) -> None:
    smtp_sink.script("7:open:email", reply)
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    with pytest.raises(DeliveryError, match=f"said {reply[:3]}") as caught:
        channel.send(ALERT, "7:open:email")
    assert isinstance(caught.value, MessageRejectedError) is rejected
    assert smtp_sink.received == []
    channel.send(ALERT, "7:open:email")  # the next try is accepted
    assert len(smtp_sink.received) == 1


def test_a_refused_login_is_the_channels_problem_not_the_messages(smtp_sink: SmtpSink) -> None:
    """535 is a 5xx, but it says the channel's password is wrong: every message would get
    it, so the outbox keeps them all (retrying) until the config is fixed."""
    channel = EmailChannel(email_config(smtp_sink), environ={"TEST_SMTP_PASSWORD": "wrong-pw"})
    with pytest.raises(DeliveryError, match="refused the login") as caught:
        channel.send(ALERT, "7:open:email")
    assert not isinstance(caught.value, MessageRejectedError)


@pytest.mark.parametrize(
    ("status", "rejected"),
    [
        *[(status, True) for status in (400, 403, 404, 410, 413)],
        *[(status, False) for status in (408, 500, 502, 503)],
    ],
)
def test_a_webhook_4xx_rejects_the_message_and_a_5xx_is_temporary(
    slack_hook: SlackHook, status: int, rejected: bool
) -> None:
    slack_hook.script("7:open:slack", Scripted(status))
    with pytest.raises(DeliveryError, match=f"answered {status}") as caught:
        slack(slack_hook).send(ALERT, "7:open:slack")
    assert isinstance(caught.value, MessageRejectedError) is rejected


@pytest.mark.parametrize("answer", [HANG, DROP])
def test_a_webhook_that_hangs_or_hangs_up_is_a_temporary_failure(
    slack_hook: SlackHook, answer: str
) -> None:
    slack_hook.hang_seconds = 1.0
    slack_hook.script("7:open:slack", answer)
    config = SlackChannelConfig(type="slack", webhook_url_env="TEST_SLACK_URL")
    channel = SlackChannel(config, environ={"TEST_SLACK_URL": slack_hook.url}, timeout=0.3)
    with pytest.raises(DeliveryError, match="cannot reach the Slack webhook") as caught:
        channel.send(ALERT, "7:open:slack")
    assert not isinstance(caught.value, MessageRejectedError)
    assert "sEcReT" not in str(caught.value)


def test_slack_down_does_not_leak_the_url(slack_hook: SlackHook) -> None:
    channel = slack(slack_hook)
    slack_hook.stop()
    with pytest.raises(DeliveryError, match="cannot reach the Slack webhook") as caught:
        channel.send(ALERT, "7:open:slack")
    assert SLACK_TOKEN_PATH not in str(caught.value)


def test_slack_missing_variable_is_named() -> None:
    channel = SlackChannel(SlackChannelConfig(type="slack", webhook_url_env="NOPE_URL"), environ={})
    with pytest.raises(DeliveryError, match="NOPE_URL"):
        channel.send(ALERT, "7:open:slack")


# -- apprise ----------------------------------------------------------------------------


def test_apprise_json_webhook_reaches_the_local_server(slack_hook: SlackHook) -> None:
    config = AppriseChannelConfig(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": slack_hook.apprise_url})
    channel.send(ALERT, "7:open:apprise")
    [request] = [r for r in slack_hook.accepted if r.path == "/apprise"]
    body = request.json()
    assert body["title"].startswith("Spike: Interior Ministry")
    assert "about 1 in 50,000" in body["message"]


def test_an_apprise_server_asking_for_a_huge_wait_fails_the_try_instead_of_hanging(
    slack_hook: SlackHook,
) -> None:
    """apprise plugins sleep inside ``notify`` for as long as their server asks (here a
    self-hosted Fluxer's 429 ``Retry-After``: 31 years), with the message claimed and the
    deliver job blocked. The try fails instead, and the outbox retries it later."""
    url = f"fluxer://127.0.0.1:{slack_hook.port}/123456789012345678/{'t0ken' * 6}?mode=private"
    config = AppriseChannelConfig(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": url})
    slack_hook.fail(429, retry_after="1000000000")
    outcome: list[BaseException | None] = []

    def send() -> None:
        try:
            channel.send(ALERT, "7:open:apprise")
            outcome.append(None)
        except BaseException as exc:  # surfaced below
            outcome.append(exc)

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a bound on a hang, not a timing assertion
    assert not worker.is_alive(), "the apprise channel is still waiting for its server"
    [error] = outcome
    assert isinstance(error, DeliveryError)
    assert not isinstance(error, MessageRejectedError)
    assert "t0ken" not in str(error)
    channel.send(ALERT, "7:open:apprise")  # the server takes it now
    assert len(slack_hook.accepted) == 1


def test_apprise_failure_is_a_delivery_error_naming_no_url(slack_hook: SlackHook) -> None:
    slack_hook.fail(500)
    secret_url = slack_hook.apprise_url.replace("/apprise", "/apprise?token=hush-hush-123")
    config = AppriseChannelConfig(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": secret_url})
    with pytest.raises(DeliveryError, match="apprise could not notify") as caught:
        channel.send(ALERT, "7:open:apprise")
    assert "hush-hush" not in str(caught.value)


def test_apprise_rejects_a_url_it_does_not_know() -> None:
    config = AppriseChannelConfig(type="apprise", urls_env="TEST_APPRISE_URLS")
    channel = AppriseChannel(config, environ={"TEST_APPRISE_URLS": "nonsense-url-abc"})
    with pytest.raises(DeliveryError, match="URL #1 in environment variable TEST_APPRISE_URLS"):
        channel.send(ALERT, "7:open:apprise")


def test_apprise_per_url_channel_sends_to_its_url_alone(slack_hook: SlackHook) -> None:
    other = SlackHook()
    other.start()
    try:
        config = AppriseChannelConfig(type="apprise", urls_env="TEST_APPRISE_URLS")
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
    ConsoleChannel(ConsoleChannelConfig(type="console"), stream=stream).send(
        ALERT, "7:open:console"
    )
    assert "Spike: Interior Ministry" in stream.getvalue()
    assert "ref 7:open:console" in stream.getvalue()


def test_build_channels_never_needs_the_secrets_up_front(caplog) -> None:  # type: ignore[no-untyped-def]
    alerts = AlertsConfig.model_validate(
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
