"""``[web]``: where the analyst's desk (pages, API, feeds) listens, and who may use it."""

from __future__ import annotations

import ipaddress
import re

from pydantic import field_validator, model_validator

from config.base import Model

DEFAULT_LISTEN = "127.0.0.1:8080"
_LISTEN = re.compile(r"^\s*(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\s*$")


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as a host and a port; ``ValueError`` otherwise."""
    found = _LISTEN.match(listen)
    if not found or not 0 < int(found.group(2)) < 65536:
        raise ValueError(f"listen must be host:port, like {DEFAULT_LISTEN}: got {listen!r}")
    return found.group(1).strip("[]"), int(found.group(2))


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebConfig(Model):
    listen: str = DEFAULT_LISTEN
    """``host:port``. Anything but loopback requires ``token_env``: the desk refuses to start."""
    token_env: str | None = None
    """The environment variable holding the access token (required beyond loopback; on
    loopback it is optional and, when set, required too)."""
    title: str = "mediawatch"
    """Shown in the page header and the feeds' titles."""

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        split_listen(value)
        return value.strip()

    @model_validator(mode="after")
    def _authenticated_beyond_loopback(self) -> WebConfig:
        if not is_loopback(self.host) and not self.token_env:
            raise ValueError(
                f"listen = {self.listen!r} is reachable from other machines: set token_env "
                "(the environment variable holding the access token)"
            )
        return self

    @property
    def host(self) -> str:
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen)[1]
