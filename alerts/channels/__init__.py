"""Alert channels: email, Slack, apprise, signed webhooks and the console, behind one
small protocol.

``build_channels(config.alerts)`` makes one channel per ``[[alerts.channels]]`` entry,
keyed by its name. Building never fails on a missing secret: each channel reads its
environment variable when it sends, so one broken channel never stops the others.

``delivery_names`` is what an alert is queued for: the channel names, except an
apprise channel with several URLs, which gets one outbox message per URL (``name#1``
...); ``resolve_channel`` finds the channel that delivers a message queued under such a
name (see ``alerts.channels.apprise_channel``). ``routed_names`` narrows them to what
one cluster's alert goes to the moment it fires: the channels the cluster names (all
when it names none), instant ones only (a digest channel gets it in its digest).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from alerts.channels.apprise_channel import AppriseChannel, split_urls
from alerts.channels.base import Channel, RateLimitedError, scrub
from alerts.channels.console import ConsoleChannel
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel
from config.channels import (
    AlertsConfig,
    AppriseChannelConfig,
    ConsoleChannelConfig,
    EmailChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from config.models import ClusterConfig

__all__ = [
    "AppriseChannel",
    "Channel",
    "ConsoleChannel",
    "EmailChannel",
    "RateLimitedError",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_channels",
    "delivery_names",
    "resolve_channel",
    "routed_names",
    "routes_to",
    "scrub",
]


def build_channel(
    channel: EmailChannelConfig
    | SlackChannelConfig
    | AppriseChannelConfig
    | WebhookChannelConfig
    | ConsoleChannelConfig,
    environ: Mapping[str, str] | None = None,
) -> Channel:
    """One channel from its config entry; secrets are read from ``environ`` at send time."""
    if isinstance(channel, EmailChannelConfig):
        return EmailChannel(channel, environ)
    if isinstance(channel, SlackChannelConfig):
        return SlackChannel(channel, environ)
    if isinstance(channel, AppriseChannelConfig):
        return AppriseChannel(channel, environ)
    if isinstance(channel, WebhookChannelConfig):
        return WebhookChannel(channel, environ)
    return ConsoleChannel(channel)


def build_channels(
    alerts: AlertsConfig, environ: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """Every configured channel, by name, in config order."""
    return {channel.name: build_channel(channel, environ) for channel in alerts.channels}


def delivery_names(
    alerts: AlertsConfig,
    environ: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
) -> list[str]:
    """The outbox channel names an alert goes to, in config order: each channel's name,
    but ``name#1`` ... ``name#N`` for an apprise channel whose variable holds N > 1 URLs
    (so each URL is delivered, and retried, on its own). ``only``: these channels."""
    env = os.environ if environ is None else environ
    names: list[str] = []
    for channel in alerts.channels:
        if only is not None and channel.name not in only:
            continue
        count = 0
        if isinstance(channel, AppriseChannelConfig):
            count = len(split_urls(env.get(channel.urls_env, "")))
        if count > 1:
            names += [f"{channel.name}#{number}" for number in range(1, count + 1)]
        else:
            names.append(channel.name)
    return names


def routed_names(
    alerts: AlertsConfig, cluster: ClusterConfig, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The outbox channel names ``cluster``'s alerts are queued for when they fire: its
    channels (every channel when it names none), instant ones only."""
    wanted = cluster.channels
    chosen = [
        channel.name
        for channel in alerts.channels
        if channel.mode == "instant" and (wanted is None or channel.name in wanted)
    ]
    return delivery_names(alerts, environ, chosen)


def routes_to(channel: str, cluster: ClusterConfig) -> bool:
    """Whether ``cluster``'s alerts go to the channel named ``channel``."""
    return cluster.channels is None or channel in cluster.channels


def resolve_channel(channels: Mapping[str, Channel], name: str) -> Channel | None:
    """The channel that delivers messages queued under ``name``; None if none does."""
    channel = channels.get(name)
    if channel is not None:
        return channel
    base, _, number = name.rpartition("#")
    parent = channels.get(base)
    if isinstance(parent, AppriseChannel) and number.isdigit() and int(number) >= 1:
        return parent.only(int(number))
    return None
