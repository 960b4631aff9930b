"""What every channel is: ``send(alert, idempotency_key)``, raising ``DeliveryError``.

A channel resolves its secrets from the environment at send time, so a missing
variable fails that channel only (and the outbox retries it), never the others.
Error messages name the variable, never its value; ``scrub`` removes secret values
from any text that came from a library (exception messages can quote URLs).

The kind of error tells the outbox what to do: a plain ``DeliveryError`` means the
channel is not working now (down, timing out, a 5xx, a wrong password): the message is
retried and the channel's other messages wait with it. ``MessageRejectedError`` means
the channel works but refused *this* message for good (an SMTP 5yz reply to it, a
webhook's 4xx): only that message is retried, a bounded number of times, then failed.
``RateLimitedError`` asks for a pause, already bounded (``bounded_retry_after``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from alerts.message import Alert
from errors import DeliveryError

MAX_ERROR_LENGTH = 500
MAX_RETRY_AFTER = 3600.0
"""The longest pause a server can ask for (seconds); the outbox's own cap is the same."""
DEFAULT_RETRY_AFTER = 60.0
"""The pause when a server asks for one but says nothing usable."""
TEMPORARY_CLIENT_STATUSES = frozenset({408, 429})
"""4xx answers that say "not now" (timeout, rate limit), not "never this message"."""


@runtime_checkable
class Channel(Protocol):
    """One configured destination for alerts."""

    name: str

    def send(self, alert: Alert, idempotency_key: str) -> None:
        """Deliver ``alert`` or raise ``DeliveryError`` with a message safe to store."""
        ...


class RateLimitedError(DeliveryError):
    """The channel asked us to come back later (HTTP 429 ``Retry-After``)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = bounded_retry_after(retry_after)
        """Seconds, finite, 1 s to ``MAX_RETRY_AFTER`` whatever the channel passed."""


class MessageRejectedError(DeliveryError):
    """The channel refused this message for good; the channel itself works."""


def bounded_retry_after(seconds: float) -> float:
    """A pause a server asked for, made safe to add to a date: 1 s to ``MAX_RETRY_AFTER``;
    NaN (which compares false with everything, so ``min``/``max`` let it through) is
    ``DEFAULT_RETRY_AFTER``."""
    if math.isnan(seconds):
        return DEFAULT_RETRY_AFTER
    return min(max(seconds, 1.0), MAX_RETRY_AFTER)


def http_rejects_message(status: int) -> bool:
    """Whether an HTTP answer refuses this message for good: a 4xx, except 408 and 429.
    A 5xx (or a 3xx: a webhook does not redirect a POST) is about the server, not the
    message."""
    return 400 <= status < 500 and status not in TEMPORARY_CLIENT_STATUSES


def secret_from_env(variable: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of ``variable``; a missing or empty one is a ``DeliveryError`` naming it."""
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        raise DeliveryError(f"environment variable {variable} (the {what}) is not set")
    return value


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` without any secret, and without the secret parts of secret URLs."""
    for secret in sorted(_variants(secrets), key=len, reverse=True):
        message = message.replace(secret, "***")
    if len(message) > MAX_ERROR_LENGTH:
        message = message[: MAX_ERROR_LENGTH - 1] + "…"
    return message


def _variants(secrets: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        found.add(secret)
        try:
            parts = urlsplit(secret)
        except ValueError:
            continue
        if parts.scheme and parts.netloc:
            # Libraries quote the path of a webhook URL, or its password, on their own.
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(parts.path.strip("/")) >= 6:
                found.add(tail)
                found.add(parts.path)
            if parts.password:
                found.add(parts.password)
    return {variant for variant in found if len(variant) >= 4}
