"""The apprise channel against a real local HTTP server: JSON webhooks, a server asking
for a huge wait, failures naming no URL, and one channel per URL."""

from __future__ import annotations

import threading

import pytest
from support.channel_alert import ALERT
from support.slack_hook import SlackHook, slack_hook_fixture  # noqa: F401

from alerts.channels import AppriseChannel
from alerts.channels.base import MessageRejectedError
from config.channels import AppriseChannelConfig
from errors import DeliveryError

# apprise 2.x imports the deprecated imghdr module when it loads its plugins.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


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
