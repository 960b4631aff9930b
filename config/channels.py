"""``[alerts]`` and its ``[[alerts.channels]]``: where alerts go, and the digest's clock."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from config.base import Duration, Model

_CLOCK_TIME = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_clock_time(value: object) -> time:
    """``"07:00"`` -> ``time(7, 0)``: a local time of day, hours and minutes."""
    if isinstance(value, time):
        return value
    match = _CLOCK_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"invalid time of day {value!r} (write it like 07:00)")
    return time(int(match.group(1)), int(match.group(2)))


ClockTime = Annotated[
    time,
    BeforeValidator(parse_clock_time),
    PlainSerializer(lambda t: f"{t:%H:%M}", return_type=str),
]


DEFAULT_DIGEST_AT = time(7, 0)


class BaseChannelConfig(Model):
    """What every channel has besides its transport: instant alerts, or one daily digest."""

    mode: Literal["instant", "digest"] = "instant"
    at: ClockTime | None = None
    """When a digest channel gets its digest: local time in ``[alerts] timezone``."""

    @model_validator(mode="after")
    def _at_only_for_digests(self) -> BaseChannelConfig:
        if self.at is not None and self.mode != "digest":
            raise ValueError('at is only for mode = "digest"')
        return self

    @property
    def digest_at(self) -> time:
        return self.at or DEFAULT_DIGEST_AT


class EmailChannelConfig(BaseChannelConfig):
    type: Literal["email"]
    name: str = "email"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = False
    ssl: bool = False
    from_: str = Field(alias="from")
    to: tuple[str, ...] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> EmailChannelConfig:
        if self.starttls and self.ssl:
            raise ValueError("choose starttls or ssl, not both")
        local = self.smtp_host in ("localhost", "127.0.0.1", "::1")
        if self.password_env and not (self.starttls or self.ssl or local):
            raise ValueError(
                f"a password would cross the network in clear text to {self.smtp_host}: "
                "set starttls = true (port 587) or ssl = true (port 465)"
            )
        return self


class SlackChannelConfig(BaseChannelConfig):
    type: Literal["slack"]
    name: str = "slack"
    webhook_url_env: str = "SLACK_WEBHOOK_URL"


class AppriseChannelConfig(BaseChannelConfig):
    type: Literal["apprise"]
    name: str = "apprise"
    urls_env: str
    """Environment variable holding one or more apprise URLs (space or comma separated)."""


class WebhookChannelConfig(BaseChannelConfig):
    type: Literal["webhook"]
    name: str = "webhook"
    url_env: str
    """Environment variable holding the URL the alert is POSTed to."""
    secret_env: str | None = None
    """Environment variable holding the key the body is signed with (HMAC-SHA256)."""


class ConsoleChannelConfig(BaseChannelConfig):
    type: Literal["console"]
    name: str = "console"


ChannelConfig = Annotated[
    EmailChannelConfig
    | SlackChannelConfig
    | AppriseChannelConfig
    | WebhookChannelConfig
    | ConsoleChannelConfig,
    Field(discriminator="type"),
]


class AlertsConfig(Model):
    channels: tuple[ChannelConfig, ...] = ()
    timezone: str = "UTC"
    """IANA name (``Europe/Berlin``) of the local time digests are sent at."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (an IANA name like Europe/Berlin or UTC)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        names = [channel.name for channel in self.channels]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; give each a name: {duplicates}")
        return self
