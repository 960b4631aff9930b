"""Alert channels: email, Slack, apprise and the console, behind one small protocol.

``build_channels(config.alerts)`` makes one channel per ``[[alerts.channels]]`` entry,
keyed by its name. Building never fails on a missing secret: each channel reads its
environment variable when it sends, so one broken channel never stops the others.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.channels.apprise_channel import AppriseChannel
from alerts.channels.base import Channel, RateLimitedError, scrub
from alerts.channels.console import ConsoleChannel
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel
from mediawatch import config as cfg

__all__ = [
    "AppriseChannel",
    "Channel",
    "ConsoleChannel",
    "EmailChannel",
    "RateLimitedError",
    "SlackChannel",
    "build_channel",
    "build_channels",
    "scrub",
]


def build_channel(
    channel: cfg.EmailChannel | cfg.SlackChannel | cfg.AppriseChannel | cfg.ConsoleChannel,
    environ: Mapping[str, str] | None = None,
) -> Channel:
    """One channel from its config entry; secrets are read from ``environ`` at send time."""
    if isinstance(channel, cfg.EmailChannel):
        return EmailChannel(channel, environ)
    if isinstance(channel, cfg.SlackChannel):
        return SlackChannel(channel, environ)
    if isinstance(channel, cfg.AppriseChannel):
        return AppriseChannel(channel, environ)
    return ConsoleChannel(channel)


def build_channels(
    alerts: cfg.AlertsConfig, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """Every configured channel, by name, in config order."""
    return {channel.name: build_channel(channel, environ) for channel in alerts.channels}
