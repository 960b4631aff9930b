"""What every channel is: ``send(alert, idempotency_key)``, raising ``DeliveryError``.

A channel resolves its secrets from the environment at send time, so a missing
variable fails that channel only (and the outbox retries it), never the others.
Error messages name the variable, never its value; ``scrub`` removes secret values
from any text that came from a library (exception messages can quote URLs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from alerts.message import Alert
from mediawatch.errors import DeliveryError

MAX_ERROR_LENGTH = 500


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
        self.retry_after = retry_after


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
