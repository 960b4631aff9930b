"""The channels as a set: the console channel, the factory that builds them from the
config, and the scrubbing of secrets from their errors."""

from __future__ import annotations

import io
import logging

import pytest
from support.channel_alert import ALERT

from alerts.channels import ConsoleChannel, build_channels, scrub
from config.channels import AlertsConfig, ConsoleChannelConfig

# apprise 2.x imports the deprecated imghdr module when it loads its plugins.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


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
