"""The email channel against a real local SMTP sink (aiosmtpd): text and HTML, auth,
STARTTLS, and which SMTP replies reject a message and which are temporary."""

from __future__ import annotations

import pytest
from support.channel_alert import ALERT
from support.smtp_sink import (  # noqa: F401
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpSink,
    smtp_sink_fixture,
    smtp_tls_sink_fixture,
)

from alerts.channels import EmailChannel
from alerts.channels.base import MessageRejectedError
from alerts.channels.email import message_id
from config.channels import EmailChannelConfig
from errors import DeliveryError


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
