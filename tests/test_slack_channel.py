"""The Slack channel against a real local webhook server: Block Kit, failures that never
show the webhook URL, and any Retry-After read as a bounded wait."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.channel_alert import ALERT
from support.slack_hook import DROP, HANG, SLACK_TOKEN_PATH, Scripted, SlackHook, slack_hook_fixture  # noqa: F401

from alerts.channels import RateLimitedError, SlackChannel
from alerts.channels.base import MessageRejectedError
from alerts.channels.posting import retry_after_seconds
from config.channels import SlackChannelConfig
from errors import DeliveryError


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
